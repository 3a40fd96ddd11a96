/**
 * The scheduler against real Redis, a real API on a loopback port and runner child processes:
 * cancel of a running trace, a scheduler killed mid-trace, a Redis restart before pick-up.
 * The runner is the real bin/tracejob-runner.js (real BPF: needs root).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { after, before, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { startAppFixture, type AppFixture } from '../../test/support/app-fixture.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../test/support/cgroups.ts';
import { startTestRedis, type TestRedis } from '../../test/support/redis.ts';
import { LocalBackend } from './local/local-backend.ts';
import { TraceStore } from '../../state/src/trace-store.ts';
import { TraceWorker } from './trace-worker.ts';

const repo = new URL('../..', import.meta.url).pathname;
const realRunner = join(repo, 'bin/tracejob-runner.js');
const runnerCommand = [process.execPath, realRunner];
const skip = kernelTestSkipReason() ?? (existsSync(realRunner) ? undefined : 'bin/tracejob-runner.js is missing');

let redis: TestRedis;
let fx: AppFixture;
let base: string;
let cg: TestCgroup;
let workload: ChildProcess;
const workers: TraceWorker[] = [];
const conns: Redis[] = [];
function connect(): Redis {
  const c = new Redis(redis.url, { maxRetriesPerRequest: null });
  c.on('error', () => undefined);
  conns.push(c);
  return c;
}
const children: ChildProcess[] = [];

before(async () => {
  if (skip) return;
  redis = await startTestRedis({ appendfsync: 'always' });
  fx = await startAppFixture({ RUNNER_COMMAND: JSON.stringify(runnerCommand) }, { redis });
  await fx.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = fx.app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  cg = createTestCgroup(uniqueCgroupPath('sched'));
  workload = cg.spawn('/bin/sh', ['-c', 'while :; do /bin/true; sleep 0.05; done']);
});

after(async () => {
  if (skip) return;
  for (const w of workers) await w.close(true).catch(() => undefined);
  for (const c of children) c.kill('SIGKILL');
  for (const c of conns) c.disconnect();
  workload.kill('SIGKILL');
  await cg.destroy();
  await fx.close();
  await redis.close();
});

/** Stops every worker and scheduler process a test started, also when the test fails. */
function cleanUpAfter(t: TestContext): void {
  t.after(async () => {
    for (const w of workers.splice(0)) await w.close(true).catch(() => undefined);
    for (const c of children.splice(0)) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await once(c, 'exit');
      }
    }
  });
}

function inProcessWorker(): TraceWorker {
  const conn = connect();
  const backend = new LocalBackend({ redis: conn, nodeName: 'test-node', dataDir: fx.dataDir, runnerCommand, graceSeconds: 5, logger: pino({ level: 'silent' }) });
  const w = new TraceWorker({
    connection: connect(),
    subscriber: connect(),
    traces: new TraceStore(conn, fx.config.retentionSeconds),
    backend,
    uploadBaseUrl: () => base,
    uploadTokenSecret: fx.config.uploadTokenSecret,
    maxResultBytes: fx.config.maxResultBytes,
    runnerGraceSeconds: 5,
    concurrency: 4,
    lockSeconds: 2,
    logger: pino({ level: 'silent' }),
  });
  workers.push(w);
  return w;
}

function schedulerProcess(): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'scheduler/src/main.ts')], {
    cwd: repo,
    env: {
      ...process.env,
      REDIS_URL: redis.url,
      DATA_DIR: fx.dataDir,
      NODE_NAME: 'test-node',
      PUBLIC_URL: base,
      RUNNER_COMMAND: JSON.stringify(runnerCommand),
      SCHEDULER_LOCK_SECONDS: '2',
      RUNNER_GRACE_SECONDS: '5',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  return child;
}

async function post(body: unknown): Promise<string> {
  const res = await fetch(`${base}/v1/traces`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 202, await res.clone().text());
  return ((await res.json()) as { id: string }).id;
}

interface View {
  status: string;
  nodes: { node: string; status: string; events: number; lostEvents: number; tracingSince?: string; progressAt?: string; uploaded?: boolean }[];
  counts: { events: number };
  tracing: { nodes: number; of: number };
  error?: string;
}

async function view(id: string): Promise<View> {
  for (let i = 0; ; i += 1) {
    try {
      const res = await fetch(`${base}/v1/traces/${id}`);
      if (res.status === 200) return (await res.json()) as View;
      if (i > 50) throw new Error(`GET ${id}: ${res.status} ${await res.text()}`);
    } catch (err) {
      if (i > 50) throw err;
    }
    await sleep(100);
  }
}

async function until(id: string, pred: (v: View) => boolean, timeoutMs: number): Promise<View> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await view(id);
    if (pred(v)) return v;
    if (Date.now() > end) throw new Error(`timed out; trace is ${JSON.stringify(v)}`);
    await sleep(100);
  }
}

const terminal = (v: View) => ['succeeded', 'partial', 'failed', 'cancelled'].includes(v.status);
const startsOf = (id: string) => readFileSync(join(fx.dataDir, 'runs', id, 'test-node', 'starts.log'), 'utf8').trim().split('\n');

test('a running node says when its gadget is attached and shows live counts while it traces', { skip }, async (t) => {
  cleanUpAfter(t);
  await inProcessWorker().start();
  const id = await post({ gadget: 'exec', durationSeconds: 30, target: { cgroupPaths: [cg.relPath] } });
  const tracing = await until(id, (v) => v.nodes.some((n) => n.tracingSince !== undefined), 60_000);
  assert.deepEqual(tracing.tracing, { nodes: 1, of: 1 });
  const node = tracing.nodes[0]!;
  assert.equal(node.status, 'running');
  assert.ok(Date.parse(node.tracingSince!) <= Date.parse(node.progressAt!), 'reported after the gadget was attached');
  // The workload execs every 50 ms: the live count grows while the runner traces.
  const first = node.events;
  const later = await until(id, (v) => (v.nodes[0]?.events ?? 0) > first + 5, 20_000);
  assert.equal(later.status, 'running', 'live counts arrive before the trace ends');
  assert.equal(later.nodes[0]?.uploaded, false);
  assert.equal(later.nodes[0]?.tracingSince, node.tracingSince, 'tracingSince does not move');
  await fetch(`${base}/v1/traces/${id}`, { method: 'DELETE' });
  await until(id, terminal, 30_000);
});

test('cancel of a running trace: runner stops early, uploads, status cancelled, partial results kept', { skip }, async (t) => {
  cleanUpAfter(t);
  await inProcessWorker().start();
  const id = await post({ gadget: 'exec', durationSeconds: 30, target: { cgroupPaths: [cg.relPath] } });
  // Cancel once the gadget is attached and has seen events (the runner's live counts).
  await until(id, (v) => v.nodes.some((n) => n.tracingSince !== undefined && n.events > 0), 60_000);
  const started = Date.now();
  const del = await fetch(`${base}/v1/traces/${id}`, { method: 'DELETE' });
  assert.equal(del.status, 202);
  const v = await until(id, terminal, 20_000);
  assert.equal(v.status, 'cancelled');
  assert.ok(Date.now() - started < 15_000, 'stopped long before its 30 s deadline');
  assert.equal(v.nodes[0]?.status, 'cancelled');
  assert.equal(v.nodes[0]?.uploaded, true);
  assert.ok(v.counts.events > 0, 'events seen before the cancel are kept');
  const events = await (await fetch(`${base}/v1/traces/${id}/events`)).text();
  assert.equal(events.trim().split('\n').length, v.counts.events);
});

test('a scheduler killed mid-trace: another takes over, the trace completes, the node job ran once', { skip }, async (t) => {
  cleanUpAfter(t);
  const first = schedulerProcess();
  const id = await post({ gadget: 'exec', durationSeconds: 4, target: { cgroupPaths: [cg.relPath] } });
  await until(id, (v) => v.nodes.some((n) => n.status === 'running'), 20_000);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  schedulerProcess();
  const v = await until(id, terminal, 40_000);
  assert.equal(v.status, 'succeeded', JSON.stringify(v));
  assert.ok(v.counts.events > 0);
  assert.equal(startsOf(id).length, 1, 'one runner for the node, adopted by the second scheduler');
});

test('Redis restarted between POST and pick-up: the trace is not lost (AOF)', { skip }, async (t) => {
  cleanUpAfter(t);
  assert.equal(workers.length + children.length, 0, 'no scheduler of an earlier test is left to pick the trace up');
  const id = await post({ gadget: 'exec', durationSeconds: 1, target: { cgroupPaths: [cg.relPath] } });
  await redis.kill();
  await redis.start();
  const queued = await view(id);
  assert.equal(queued.status, 'queued');
  await inProcessWorker().start();
  const v = await until(id, terminal, 30_000);
  assert.equal(v.status, 'succeeded', JSON.stringify(v));
});
