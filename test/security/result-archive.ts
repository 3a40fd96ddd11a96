/** A runner-shaped result upload (tar.gz with events.ndjson and summary.json), for tests. */
import { gzipSync } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';

export async function tarGz(files: Record<string, string | Buffer>): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const [name, body] of Object.entries(files)) pack.entry({ name }, body);
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

export function nodeSummary(traceId: string, node: string, events: number): string {
  const now = new Date().toISOString();
  return JSON.stringify({
    traceId, node, gadget: 'exec', startedAt: now, stoppedAt: now, stopReason: 'deadline',
    events, lostEvents: 0, truncated: false, perContainer: [], top: {}, targetsNotFound: [], cgroupIds: [],
  });
}

export async function resultUpload(traceId: string, node: string, events = 1): Promise<Buffer> {
  const lines = Array.from({ length: events }, (_, i) => JSON.stringify({ gadget: 'exec', timestamp: i, pid: 1, tid: 1, uid: 0, comm: 'sh', cgroupId: 1, node })).join('\n');
  return tarGz({ 'events.ndjson': lines + (events ? '\n' : ''), 'summary.json': nodeSummary(traceId, node, events) });
}
