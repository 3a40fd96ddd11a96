/**
 * Node results as a runner uploads them, for the result-store tests: a trace record created the
 * way the API does, `open`-shaped events, the tar.gz upload with its summary, and the upload itself
 * (with an upload token) over HTTP or through app.inject. Tests only.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import type { TraceSpec } from '../../contracts/index.ts';
import { issueUploadToken } from '../../state/src/upload-token.ts';
import type { TraceStore } from '../../state/src/trace-store.ts';
import { tarGz } from '../security/result-archive.ts';

export { tarGz };

export function nodeSummary(traceId: string, node: string, events: number): string {
  const now = new Date().toISOString();
  return JSON.stringify({
    traceId, node, gadget: 'open', startedAt: now, stoppedAt: now, stopReason: 'deadline',
    events, lostEvents: 0, truncated: false, perContainer: [], top: {}, targetsNotFound: [], cgroupIds: [1],
  });
}

/** A trace record of the `open` gadget, as POST /v1/traces would create it. */
export async function createOpenTrace(traces: TraceStore): Promise<string> {
  const id = randomUUID();
  const spec: TraceSpec = { gadget: 'open', durationSeconds: 10, target: { cgroupPaths: ['test'] }, params: { failedOnly: false, pathPrefix: '' }, limits: { maxEvents: 1_000_000 } };
  await traces.create(id, spec);
  return id;
}

export interface OpenEventOptions {
  node: string;
  pods?: readonly string[];
  /** First timestamp (ns); each next event is 1000 ns later. */
  start?: bigint;
  /** 'string': exact decimal strings (what the runner writes for exact ns); default 'number'. */
  timestampAs?: 'number' | 'string';
}

/** `count` events of the open gadget's shape, in order. */
export function openEvents(count: number, opts: OpenEventOptions): Record<string, unknown>[] {
  const pods = opts.pods ?? ['web-1', 'web-2'];
  const start = opts.start ?? 1_764_600_000_000_000_000n;
  return Array.from({ length: count }, (_, i) => {
    const ts = start + BigInt(i) * 1000n;
    const failed = i % 5 === 4;
    return {
      gadget: 'open',
      // A bigint is written as a bare JSON number with every digit (see ndjson()).
      timestamp: opts.timestampAs === 'string' ? ts.toString() : ts,
      pid: 100 + (i % 3),
      tid: 100 + (i % 3),
      ppid: 1,
      uid: 0,
      comm: ['cat', 'nginx', 'sh'][i % 3],
      cgroupId: 77,
      syscall: 'openat',
      path: `/etc/file-${i % 4}`,
      pathTruncated: false,
      dirfd: -100,
      flags: 524288,
      flagNames: 'O_RDONLY|O_CLOEXEC',
      mode: 0,
      ret: failed ? -2 : 3,
      ...(failed ? { errno: 2, error: 'ENOENT' } : { fd: 3 }),
      node: opts.node,
      namespace: 'shop',
      pod: pods[i % pods.length],
      container: 'app',
    };
  });
}

/** NDJSON text of events; a bigint becomes a JSON number with all its digits (as a runner writes exact ns). */
export function ndjson(events: readonly Record<string, unknown>[]): string {
  const line = (e: Record<string, unknown>) =>
    JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? `@@big:${v}` : v)).replace(/"@@big:(-?\d+)"/g, '$1');
  return events.map(line).join('\n') + (events.length ? '\n' : '');
}

export async function resultArchive(traceId: string, node: string, events: readonly Record<string, unknown>[] | string, count?: number): Promise<Buffer> {
  const text = typeof events === 'string' ? events : ndjson(events);
  return tarGz({ 'events.ndjson': text, 'summary.json': nodeSummary(traceId, node, count ?? (typeof events === 'string' ? 0 : events.length)) });
}

export function uploadToken(secret: string, traceId: string, node: string): string {
  return issueUploadToken(secret, traceId, node, new Date(Date.now() + 10 * 60_000));
}

/** PUT a node's result to an API at `baseUrl` over HTTP. */
export async function putResult(baseUrl: string, secret: string, traceId: string, node: string, body: Buffer): Promise<Response> {
  return fetch(`${baseUrl}/v1/traces/${traceId}/nodes/${node}/result`, {
    method: 'PUT',
    body,
    headers: { 'content-type': 'application/gzip', authorization: `Bearer ${uploadToken(secret, traceId, node)}` },
  });
}

/**
 * A large result archive written to `dir` without holding it in memory: `count` open events
 * (NDJSON streamed to a file, then tar + gzip streamed to `result.tar.gz`). Returns the paths and
 * the NDJSON's size.
 */
export async function writeLargeResult(dir: string, traceId: string, node: string, count: number, pods: readonly string[] = ['big-1', 'big-2']): Promise<{ archive: string; ndjsonFile: string; ndjsonBytes: number }> {
  const ndjsonFile = join(dir, 'events.ndjson');
  const out = createWriteStream(ndjsonFile);
  const batch = 10_000;
  for (let i = 0; i < count; i += batch) {
    const events = openEvents(Math.min(batch, count - i), { node, pods, start: 1_764_600_000_000_000_000n + BigInt(i) * 1000n });
    if (!out.write(ndjson(events))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const ndjsonBytes = statSync(ndjsonFile).size;
  const pack = tarPack();
  const archive = join(dir, 'result.tar.gz');
  const written = pipeline(pack, createGzip({ level: 1 }), createWriteStream(archive));
  const summaryText = nodeSummary(traceId, node, count);
  await new Promise<void>((resolve, reject) => pack.entry({ name: 'summary.json', size: Buffer.byteLength(summaryText) }, summaryText, (err) => (err ? reject(err) : resolve())));
  const entry = pack.entry({ name: 'events.ndjson', size: ndjsonBytes });
  await pipeline(createReadStream(ndjsonFile), entry);
  pack.finalize();
  await written;
  return { archive, ndjsonFile, ndjsonBytes };
}
