/**
 * Reading a trace's events: the whole NDJSON as a stream (filtered by node/pod/container), or a
 * JSON page of `limit` events with an opaque cursor (node + byte offset in its events.ndjson).
 */
import { Readable } from 'node:stream';
import type { ResultStore } from './result-store.ts';

export interface EventFilter {
  node?: string;
  pod?: string;
  container?: string;
}

export class InvalidEventCursorError extends Error {
  override readonly name = 'InvalidEventCursorError';
}

interface EventCursor {
  node: string;
  offset: number;
}

function encode(c: EventCursor): string {
  return Buffer.from(JSON.stringify([c.node, c.offset])).toString('base64url');
}

function decode(raw: string): EventCursor {
  try {
    const v = JSON.parse(Buffer.from(raw, 'base64url').toString()) as unknown;
    if (Array.isArray(v) && typeof v[0] === 'string' && Number.isSafeInteger(v[1]) && (v[1] as number) >= 0) {
      return { node: v[0], offset: v[1] as number };
    }
  } catch {
    /* fall through */
  }
  throw new InvalidEventCursorError('cursor is not one this server gave out');
}

/** Lines of a stream with the byte offset just past each line's newline. */
async function* linesWithOffsets(stream: Readable, start: number): AsyncGenerator<{ line: Buffer; end: number }> {
  let pending: Buffer = Buffer.alloc(0);
  let base = start;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let from = 0;
    for (;;) {
      const nl = pending.indexOf(10, from);
      if (nl < 0) break;
      yield { line: pending.subarray(from, nl), end: base + nl + 1 };
      from = nl + 1;
    }
    base += from;
    pending = pending.subarray(from);
  }
  if (pending.length > 0) yield { line: pending, end: base + pending.length };
}

/** The event of a line, or undefined for a line that is not a JSON object (a runner killed mid-line, a hostile upload). */
function parseEvent(line: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(line.toString('utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function matches(event: Record<string, unknown>, filter: EventFilter): boolean {
  if (filter.pod !== undefined && event.pod !== filter.pod) return false;
  if (filter.container !== undefined && event.container !== filter.container) return false;
  return true;
}

async function nodesOf(store: ResultStore, traceId: string, filter: EventFilter): Promise<string[]> {
  const all = await store.nodes(traceId);
  return filter.node === undefined ? all : all.filter((n) => n === filter.node);
}

/** All matching events as NDJSON. */
export async function eventsNdjson(store: ResultStore, traceId: string, filter: EventFilter): Promise<Readable> {
  const nodes = await nodesOf(store, traceId, filter);
  const byField = filter.pod !== undefined || filter.container !== undefined;
  async function* generate(): AsyncGenerator<Buffer> {
    for (const node of nodes) {
      if ((await store.eventsSize(traceId, node)) === undefined) continue;
      if (!byField) {
        for await (const chunk of store.eventsStream(traceId, node) as AsyncIterable<Buffer>) yield chunk;
        continue;
      }
      for await (const { line } of linesWithOffsets(store.eventsStream(traceId, node), 0)) {
        if (line.length === 0) continue;
        const event = parseEvent(line);
        if (event && matches(event, filter)) yield Buffer.concat([line, Buffer.from('\n')]);
      }
    }
  }
  return Readable.from(generate(), { objectMode: false });
}

/** One page of matching events. */
export async function eventsPage(
  store: ResultStore,
  traceId: string,
  filter: EventFilter,
  limit: number,
  cursor?: string,
): Promise<{ items: Record<string, unknown>[]; nextCursor?: string }> {
  const nodes = await nodesOf(store, traceId, filter);
  let at: EventCursor | undefined = cursor ? decode(cursor) : undefined;
  let index = at ? nodes.indexOf(at.node) : 0;
  if (at && index < 0) throw new InvalidEventCursorError('cursor names a node this trace has no results for');
  const items: Record<string, unknown>[] = [];
  for (; index < nodes.length; index += 1) {
    const node = nodes[index]!;
    const size = await store.eventsSize(traceId, node);
    const start = at && at.node === node ? at.offset : 0;
    at = undefined;
    if (size === undefined || start >= size) continue;
    const stream = store.eventsStream(traceId, node, start);
    try {
      for await (const { line, end } of linesWithOffsets(stream, start)) {
        if (line.length === 0) continue;
        const event = parseEvent(line);
        if (!event || !matches(event, filter)) continue;
        items.push(event);
        if (items.length === limit) {
          const more = end < size || index + 1 < nodes.length;
          return more ? { items, nextCursor: encode(end < size ? { node, offset: end } : { node: nodes[index + 1]!, offset: 0 }) } : { items };
        }
      }
    } finally {
      stream.destroy();
    }
  }
  return { items };
}
