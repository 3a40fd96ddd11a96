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

/** A profile result whose events try to break the stack merging and the flame graph. */
export async function hostileProfileUpload(traceId: string, node: string): Promise<Buffer> {
  const base = { gadget: 'profile', timestamp: 1, pid: 1, tid: 1, uid: 0, comm: 'sh', cgroupId: 1, node };
  const lines = [
    { ...base, folded: 'sh;main;<script>alert(1)</script>', samples: 3 },
    { ...base, folded: ';;;', samples: 1 },
    { ...base, folded: 'sh;' + 'deep;'.repeat(2000) + 'leaf', samples: 2 },
    { ...base, folded: 'sh;x', samples: -5 },
    { ...base, folded: 'sh;y', samples: 1e300 },
    { ...base, folded: 42, samples: 1 },
    { ...base, folded: 'sh;"quoted" & \'apos\'', samples: 2 },
    { ...base },
  ].map((e) => JSON.stringify(e));
  const summary = JSON.parse(nodeSummary(traceId, node, lines.length)) as Record<string, unknown>;
  summary.gadget = 'profile';
  return tarGz({ 'events.ndjson': lines.join('\n') + '\n{"cut short', 'summary.json': JSON.stringify(summary) });
}
