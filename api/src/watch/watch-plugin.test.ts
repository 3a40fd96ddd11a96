import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import type { TraceSpec } from '../../../contracts/index.ts';
import { TraceStore } from '../../../state/src/trace-store.ts';
import { startTestRedis, type TestRedis } from '../../../test/support/redis.ts';
import { httpErrorOf } from '../errors.ts';
import { FsResultStore } from '../store/fs-result-store.ts';
import traceWatch from './watch-plugin.ts';

const spec: TraceSpec = { gadget: 'exec', durationSeconds: 2, target: { cgroupPaths: ['/x'] }, params: {}, limits: { maxEvents: 100 } };

let redis: TestRedis;
let store: TraceStore;
let dataDir: string;
let app: FastifyInstance;
let base: string;
let reads = 0;

before(async () => {
  redis = await startTestRedis();
  store = new TraceStore(redis.client(), 3600);
  dataDir = mkdtempSync(join(tmpdir(), 'tracejob-watch-'));
  app = Fastify();
  app.setErrorHandler((err, _req, reply) => {
    const { status, body } = httpErrorOf(err);
    return reply.code(status).send(body);
  });
  const counting = {
    get: (id: string) => {
      reads += 1;
      return store.get(id);
    },
    plans: (id: string) => store.plans(id),
  };
  await app.register(traceWatch, { traces: counting, results: new FsResultStore(dataDir), pollMs: 50, heartbeatMs: 100 });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

after(async () => {
  await app.close();
  await redis.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Msg {
  event: string;
  data: unknown;
}

/** Reads the SSE stream into messages until it ends; returns the messages and the number of pings. */
async function readStream(res: Response, onMessage?: (m: Msg) => void): Promise<{ messages: Msg[]; pings: number }> {
  const messages: Msg[] = [];
  let pings = 0;
  let buf = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += Buffer.from(chunk).toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (block === ': ping') pings += 1;
      if (block.startsWith(':')) continue;
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? 'null') as unknown;
      const m = { event, data };
      messages.push(m);
      onMessage?.(m);
    }
  }
  return { messages, pings };
}

test('streams status changes with per-node counts, then the summary, then ends', async () => {
  const id = randomUUID();
  await store.create(id, spec);
  await store.setPlans(id, [{ node: 'n1', targets: {} }, { node: 'n2', targets: {} }]);
  const res = await fetch(`${base}/v1/traces/${id}/watch`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const steps = [
    () => store.markRunning(id),
    () => store.setNodeStatus(id, 'n1', 'running'),
    () => store.setNodeStatus(id, 'n1', 'succeeded', { events: 7, lostEvents: 1 }),
    async () => {
      const dir = join(dataDir, 'traces', id, 'nodes', 'n1');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'summary.json'), JSON.stringify({ traceId: id, node: 'n1', gadget: 'exec', events: 7, lostEvents: 1, truncated: false, perContainer: [], top: { comm: [{ value: 'sh', count: 7 }] }, targetsNotFound: [] }));
      await store.setNodeStatus(id, 'n2', 'failed', { error: 'runner crashed' });
      await store.finish(id, 'partial');
    },
  ];
  let step = 0;
  const { messages } = await readStream(res, (m) => {
    if (m.event === 'status' && step < steps.length) void steps[step++]!();
  });
  const statuses = messages.filter((m) => m.event === 'status').map((m) => m.data as { status: string; counts: Record<string, number> });
  assert.equal(statuses[0]!.status, 'queued');
  assert.deepEqual(statuses[0]!.counts, { events: 0, lostEvents: 0, nodesTracing: 0, nodesDone: 0, nodesTotal: 2 });
  const last = statuses.at(-1)!;
  assert.equal(last.status, 'partial');
  assert.deepEqual(last.counts, { events: 7, lostEvents: 1, nodesTracing: 0, nodesDone: 2, nodesTotal: 2 });
  assert.ok(statuses.some((s) => s.status === 'running'));
  const tail = messages.slice(-2);
  assert.equal(tail[0]!.event, 'summary');
  assert.deepEqual((tail[0]!.data as { top: unknown }).top, { comm: [{ value: 'sh', count: 7 }] });
  assert.deepEqual(tail[1], { event: 'end', data: { status: 'partial' } });
});

test('a finished trace gets its final status and summary at once', async () => {
  const id = randomUUID();
  await store.create(id, spec);
  await store.finish(id, 'failed', 'no targets');
  const { messages } = await readStream(await fetch(`${base}/v1/traces/${id}/watch`));
  assert.deepEqual(
    messages.map((m) => m.event),
    ['status', 'summary', 'end'],
  );
  assert.equal((messages[0]!.data as { error: string }).error, 'no targets');
});

test('heartbeats keep an idle stream alive; a client that leaves stops the polling', async () => {
  const id = randomUUID();
  await store.create(id, spec);
  const ac = new AbortController();
  const res = await fetch(`${base}/v1/traces/${id}/watch`, { signal: ac.signal });
  let pings = 0;
  let buf = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += Buffer.from(chunk).toString('utf8');
    pings = buf.split(': ping\n\n').length - 1;
    if (pings >= 2) break;
  }
  ac.abort();
  assert.ok(pings >= 2);
  await new Promise((r) => setTimeout(r, 150));
  const before = reads;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(reads, before, 'no more reads of the trace store after the client left');
});

test('unknown trace: 404 with the error shape; bad id: 400', async () => {
  const res = await fetch(`${base}/v1/traces/${randomUUID()}/watch`);
  assert.equal(res.status, 404);
  assert.equal(((await res.json()) as { error: string }).error, 'not_found');
  assert.equal((await fetch(`${base}/v1/traces/nope/watch`)).status, 400);
});
