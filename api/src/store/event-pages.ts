/**
 * Reading a trace's events: the whole NDJSON as a stream, a JSON page of `limit` events with an
 * opaque cursor, or top-N counts of a field — all filtered by an EventQuery. Answered from the
 * nodes' columnar copies (event-query.ts); a result stored without one (before the columnar copy
 * existed, or by a store without an engine) is scanned line by line, which is also the reference
 * the query benchmark measures against.
 */
import { Readable } from 'node:stream';
import type { ColumnarEngine } from './columnar-engine.ts';
import { columnarPage, columnarTop, type ColumnarNode, type EventQuery, type TopEntryValue } from './event-query.ts';
import type { ResultStore } from './result-store.ts';

/** The attribution filter of callers that take no gadget fields (profile stacks). */
export interface EventFilter {
  node?: string;
  pod?: string;
  container?: string;
}

export class InvalidEventCursorError extends Error {
  override readonly name = 'InvalidEventCursorError';
}

/** Where a page ends: a row of a node's columnar copy, or a byte offset in its NDJSON (scan). */
type EventCursor = { kind: 'row'; node: string; seq: number } | { kind: 'byte'; node: string; offset: number };

function encode(c: EventCursor): string {
  const v = c.kind === 'row' ? ['r', c.node, c.seq] : [c.node, c.offset];
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

function decode(raw: string): EventCursor {
  try {
    const v = JSON.parse(Buffer.from(raw, 'base64url').toString()) as unknown;
    if (Array.isArray(v) && v.length === 3 && v[0] === 'r' && typeof v[1] === 'string' && Number.isSafeInteger(v[2]) && (v[2] as number) >= 0) {
      return { kind: 'row', node: v[1], seq: v[2] as number };
    }
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && Number.isSafeInteger(v[1]) && (v[1] as number) >= 0) {
      return { kind: 'byte', node: v[0], offset: v[1] as number };
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

function parseLine(line: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(line.toString('utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // half a line left by a killed runner
  }
}

/** The scan's test of one event (integers compared as text: exact for the NDJSON's own digits). */
function matches(event: Record<string, unknown>, q: EventQuery): boolean {
  for (const eq of q.equals) {
    const v = event[eq.field];
    if (v === undefined || v === null) return false;
    if (eq.kind === 'string' ? v !== eq.value : String(v) !== eq.value) return false;
  }
  if (q.since !== undefined || q.until !== undefined) {
    let ts: bigint;
    try {
      ts = BigInt(String(event.timestamp));
    } catch {
      return false;
    }
    if (q.since !== undefined && ts < q.since) return false;
    if (q.until !== undefined && ts >= q.until) return false;
  }
  return true;
}

function isFiltered(q: EventQuery): boolean {
  return q.equals.length > 0 || q.since !== undefined || q.until !== undefined;
}

async function nodesOf(store: ResultStore, traceId: string, q: EventQuery): Promise<string[]> {
  const all = await store.nodes(traceId);
  return q.node === undefined ? all : all.filter((n) => n === q.node);
}

/** The nodes' columnar copies, or undefined when one of them has none (then: scan). */
async function columnarNodes(store: ResultStore, engine: ColumnarEngine | undefined, traceId: string, nodes: readonly string[]): Promise<ColumnarNode[] | undefined> {
  if (!engine) return undefined;
  const found = await Promise.all(nodes.map(async (node) => ({ node, columnar: await store.columnar(traceId, node) })));
  return found.every((n) => n.columnar !== undefined) ? (found as ColumnarNode[]) : undefined;
}

/** All matching events as NDJSON. */
export async function eventsNdjson(store: ResultStore, engine: ColumnarEngine | undefined, traceId: string, q: EventQuery): Promise<Readable> {
  const nodes = await nodesOf(store, traceId, q);
  const filtered = isFiltered(q);
  const columnar = filtered ? await columnarNodes(store, engine, traceId, nodes) : undefined;
  async function* generate(): AsyncGenerator<Buffer> {
    if (columnar && engine) {
      let start: { node: string; seq: number } | undefined;
      do {
        const page = await columnarPage(engine, columnar, q, 10_000, start);
        if (page.items.length > 0) yield Buffer.from(page.items.join('\n') + '\n');
        start = page.next;
      } while (start);
      return;
    }
    for (const node of nodes) {
      if ((await store.eventsSize(traceId, node)) === undefined) continue;
      if (!filtered) {
        for await (const chunk of store.eventsStream(traceId, node) as AsyncIterable<Buffer>) yield chunk;
        continue;
      }
      for await (const { line } of linesWithOffsets(store.eventsStream(traceId, node), 0)) {
        const event = line.length > 0 ? parseLine(line) : undefined;
        if (event && matches(event, q)) yield Buffer.concat([line, Buffer.from('\n')]);
      }
    }
  }
  return Readable.from(generate(), { objectMode: false });
}

export interface EventsPageText {
  /** Each item's JSON text. */
  items: string[];
  nextCursor?: string;
}

/** The page as the JSON text of `{items, nextCursor?}`. */
export function pageJson(page: EventsPageText): string {
  return `{"items":[${page.items.join(',')}]${page.nextCursor ? `,"nextCursor":${JSON.stringify(page.nextCursor)}` : ''}}`;
}

/** One page of matching events. */
export async function eventsPage(
  store: ResultStore,
  engine: ColumnarEngine | undefined,
  traceId: string,
  q: EventQuery,
  limit: number,
  cursor?: string,
): Promise<EventsPageText> {
  const nodes = await nodesOf(store, traceId, q);
  const at = cursor ? decode(cursor) : undefined;
  if (at && !nodes.includes(at.node)) throw new InvalidEventCursorError('cursor names a node this trace has no results for');
  // Unfiltered, the first lines of the NDJSON are the page: read them as they are.
  const columnar = isFiltered(q) ? await columnarNodes(store, engine, traceId, nodes) : undefined;
  if (columnar && engine) {
    if (at && at.kind !== 'row') throw new InvalidEventCursorError('cursor is from before this result had its columnar copy; start again without it');
    const page = await columnarPage(engine, columnar, q, limit, at?.kind === 'row' ? at : undefined);
    return page.next ? { items: page.items, nextCursor: encode({ kind: 'row', ...page.next }) } : { items: page.items };
  }
  if (at && at.kind !== 'byte') throw new InvalidEventCursorError('cursor belongs to a filtered query; give the same filter with it');
  let index = at ? nodes.indexOf(at.node) : 0;
  let from: { node: string; offset: number } | undefined = at?.kind === 'byte' ? at : undefined;
  const items: string[] = [];
  for (; index < nodes.length; index += 1) {
    const node = nodes[index]!;
    const size = await store.eventsSize(traceId, node);
    const start = from && from.node === node ? from.offset : 0;
    from = undefined;
    if (size === undefined || start >= size) continue;
    const stream = store.eventsStream(traceId, node, start);
    try {
      for await (const { line, end } of linesWithOffsets(stream, start)) {
        const event = line.length > 0 ? parseLine(line) : undefined;
        if (!event || !matches(event, q)) continue;
        items.push(line.toString('utf8'));
        if (items.length === limit) {
          const more = end < size || index + 1 < nodes.length;
          if (!more) return { items };
          return { items, nextCursor: encode(end < size ? { kind: 'byte', node, offset: end } : { kind: 'byte', node: nodes[index + 1]!, offset: 0 }) };
        }
      }
    } finally {
      stream.destroy();
    }
  }
  return { items };
}

/** Top-N values of `field` among the matching events. */
export async function eventsTop(
  store: ResultStore,
  engine: ColumnarEngine | undefined,
  traceId: string,
  q: EventQuery,
  field: string,
  limit: number,
): Promise<TopEntryValue[]> {
  const nodes = await nodesOf(store, traceId, q);
  const columnar = await columnarNodes(store, engine, traceId, nodes);
  if (columnar && engine) return columnarTop(engine, columnar, q, field, limit);
  const counts = new Map<string, number>();
  for (const node of nodes) {
    if ((await store.eventsSize(traceId, node)) === undefined) continue;
    for await (const { line } of linesWithOffsets(store.eventsStream(traceId, node), 0)) {
      const event = line.length > 0 ? parseLine(line) : undefined;
      if (!event || !matches(event, q)) continue;
      const v = event[field];
      if (v === undefined || v === null) continue;
      const key = JSON.stringify(v);
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, limit)
    .map(([valueJson, count]) => ({ valueJson, count }));
}
