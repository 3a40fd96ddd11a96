/**
 * API benchmark. In one run, against the same real redis-server (AOF on, appendfsync everysec):
 *  1. raw BullMQ Queue.add throughput with N adds in flight (the reference);
 *  2. POST /v1/traces throughput and latency p50/p99 with autocannon (N connections), the API
 *     alone (no scheduler, so nothing runs the queued traces);
 *  3. POST → first event of a local exec trace in the all-in-one mode (real runner, real BPF): the
 *     wall-clock timestamp of the first event the runner saw minus the time of the POST, for a
 *     workload that execs continuously.
 *     Also POST → tracing (the node's tracingSince: gadget attached and filtering), and where the
 *     time went (runner spawned, runner's first log line, targets resolved, gadget attached).
 * Targets: POST ≥ 50 % of raw Queue.add; POST → tracing and POST → first event < 500 ms (median).
 * Usage: npm run bench:api -- [--json] [--seconds 5] [--connections 32] [--skip-trace] [--trace-runs 5]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { buildApp } from '../../api/src/app.ts';
import { loadConfig } from '../../state/src/config.ts';
import { loadGadgetCatalogue } from '../../api/src/gadget-catalogue.ts';
import { TracejobMetrics } from '../../api/src/metrics.ts';
import { startRedisServer } from '../../state/src/redis-server-process.ts';
import { FsResultStore } from '../../api/src/store/fs-result-store.ts';
import { startAllInOne } from '../../cli/serve.ts';
import { LocalBackend } from '../../scheduler/src/local/local-backend.ts';
import { createTraceQueue, queueDepth } from '../../state/src/trace-queue.ts';
import { TraceStore } from '../../state/src/trace-store.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath } from '../support/cgroups.ts';

const argv = process.argv.slice(2);
const json = argv.includes('--json');
const arg = (name: string, fallback: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const seconds = arg('--seconds', 5);
const connections = arg('--connections', 32);
const log = (...a: unknown[]) => {
  if (!json) console.error(...a);
};

async function rawQueueAdd(url: string): Promise<number> {
  const conn = new Redis(url, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
  const queue = new Queue('bench-raw', { connection: conn, defaultJobOptions: { removeOnComplete: true, removeOnFail: true } });
  await queue.waitUntilReady();
  let done = 0;
  let n = 0;
  const end = Date.now() + seconds * 1000;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (Date.now() < end) {
        n += 1;
        await queue.add('trace', { traceId: `raw-${n}` }, { jobId: `raw-${n}` });
        done += 1;
      }
    }),
  );
  const rate = done / ((Date.now() - started) / 1000);
  await queue.obliterate({ force: true });
  await queue.close();
  conn.disconnect();
  return rate;
}

interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}

/** autocannon's CLI in a child process, its --json report parsed. */
function autocannonProcess(opts: { url: string; body: string }): Promise<AutocannonResult> {
  const bin = new URL('../../node_modules/autocannon/autocannon.js', import.meta.url).pathname;
  const args = [bin, '--json', '-c', String(connections), '-d', String(seconds), '-m', 'POST', '-H', 'content-type=application/json', '-b', opts.body, opts.url];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err.slice(-500)}`));
      try {
        resolve(JSON.parse(out) as AutocannonResult);
      } catch {
        reject(new Error(`autocannon printed no JSON report: ${out.slice(0, 200)} ${err.slice(-300)}`));
      }
    });
  });
}

async function postThroughput(url: string, dataDir: string) {
  const config = loadConfig({ DATA_DIR: dataDir, REDIS_URL: url, PORT: '0', LOG_LEVEL: 'warn', MAX_QUEUED_TRACES: '100000000', NODE_NAME: 'bench-node' });
  const redis = new Redis(url, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
  const queueConn = new Redis(url, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
  const queue = createTraceQueue(queueConn);
  const metrics = new TracejobMetrics(() => queueDepth(queue));
  const backend = new LocalBackend({ redis, nodeName: 'bench-node', dataDir, runnerCommand: config.runnerCommand, graceSeconds: 5, logger: pino({ level: 'silent' }) });
  const app = await buildApp(
    {
      config,
      redis,
      queue,
      queueDepth: () => queueDepth(queue),
      traces: new TraceStore(redis, config.retentionSeconds),
      results: new FsResultStore(dataDir),
      gadgets: await loadGadgetCatalogue(),
      metrics,
      checkTarget: (t) => backend.checkTarget(t),
    },
    pino({ level: 'warn' }),
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  // The load generator runs in a process of its own, as a client would: in this process it would
  // share the API's event loop and halve what the API can serve.
  const result = await autocannonProcess({
    url: `http://127.0.0.1:${port}/v1/traces`,
    body: JSON.stringify({ gadget: 'exec', durationSeconds: 5, target: { pids: [process.pid] } }),
  });
  await app.close();
  await queue.obliterate({ force: true });
  await queue.close();
  queueConn.disconnect();
  redis.disconnect();
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

interface StartRun {
  /** POST → the node's tracingSince (gadget attached and filtering). */
  tracingMs: number;
  /** POST → the first event's timestamp. */
  firstEventMs: number;
  /** Where the time went (ms from the POST): the job handed to a (warm) runner, then the runner's own log lines. */
  phases: { runnerSpawned: number; runnerStarted: number; targetsResolved: number; gadgetAttached: number };
}

/** ms from `postedMs` to the ISO time of the runner's first log line with `step`. */
function stepAt(logText: string, step: string, postedMs: number): number {
  for (const line of logText.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { step?: string; time?: string };
    if (entry.step === step && entry.time) return Date.parse(entry.time) - postedMs;
  }
  return NaN;
}

async function postToFirstEvent(runs: number): Promise<StartRun[] | string> {
  const skip = kernelTestSkipReason();
  if (skip) return `skipped: ${skip}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'tracejob-bench-aio-'));
  const server = await startAllInOne(loadConfig({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', NODE_NAME: 'bench-node' }), pino({ level: 'silent' }));
  const cg = createTestCgroup(uniqueCgroupPath('bench'));
  const workload = cg.spawn('/bin/sh', ['-c', 'while :; do /bin/true; sleep 0.002; done']);
  const out: StartRun[] = [];
  try {
    for (let i = 0; i < runs; i += 1) {
      const postedMs = Date.now();
      const res = await fetch(`${server.url}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ gadget: 'exec', durationSeconds: 2, target: { cgroupPaths: [cg.relPath] } }),
      });
      const { id } = (await res.json()) as { id: string };
      let view: { status: string; nodes: { tracingSince?: string }[] } = { status: 'queued', nodes: [] };
      for (let t = 0; t < 3000 && !['succeeded', 'partial', 'failed', 'cancelled'].includes(view.status); t += 1) {
        await sleep(10);
        view = (await (await fetch(`${server.url}/v1/traces/${id}`)).json()) as typeof view;
      }
      const page = (await (await fetch(`${server.url}/v1/traces/${id}/events?limit=1`)).json()) as { items: { timestamp: number | string }[] };
      const first = page.items[0];
      const tracingSince = view.nodes[0]?.tracingSince;
      if (view.status !== 'succeeded' || !first || !tracingSince) {
        log(`trace ${id}: ${view.status}, ${first ? '' : 'no events, '}${tracingSince ? '' : 'no tracingSince'}`);
        continue;
      }
      const runDir = join(dataDir, 'runs', id, 'bench-node');
      const starts = readFileSync(join(runDir, 'starts.log'), 'utf8');
      const runnerLog = readFileSync(join(runDir, 'runner.log'), 'utf8');
      // events.ndjson is in arrival order; the first line is the first event seen.
      const run: StartRun = {
        tracingMs: Date.parse(tracingSince) - postedMs,
        firstEventMs: Number(BigInt(String(first.timestamp).split('.')[0]!) - BigInt(postedMs) * 1_000_000n) / 1e6,
        phases: {
          runnerSpawned: Date.parse(starts.split(' ')[0]!) - postedMs,
          runnerStarted: stepAt(runnerLog, 'start', postedMs),
          targetsResolved: stepAt(runnerLog, 'targets', postedMs),
          gadgetAttached: stepAt(runnerLog, 'session', postedMs),
        },
      };
      out.push(run);
      log(`run ${i + 1}: POST → tracing ${run.tracingMs.toFixed(0)} ms, → first event ${run.firstEventMs.toFixed(0)} ms; phases ${JSON.stringify(run.phases)}`);
    }
  } finally {
    workload.kill('SIGKILL');
    await cg.destroy();
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return out;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};

const dir = mkdtempSync(join(tmpdir(), 'tracejob-bench-api-'));
const redis = await startRedisServer({ dir: join(dir, 'redis'), appendfsync: 'everysec' });
try {
  log(`raw Queue.add: ${connections} in flight for ${seconds}s…`);
  const raw = await rawQueueAdd(redis.url);
  log(`  ${raw.toFixed(0)} adds/s`);
  log(`POST /v1/traces: autocannon ${connections} connections for ${seconds}s…`);
  const post = await postThroughput(redis.url, dir);
  log(`  ${post.rps.toFixed(0)} req/s, p50 ${post.p50} ms, p99 ${post.p99} ms, non-2xx ${post.non2xx}`);
  const starts = argv.includes('--skip-trace') ? 'skipped: --skip-trace' : await postToFirstEvent(arg('--trace-runs', 5));
  const ratio = post.rps / raw;
  const summarize = (pick: (r: StartRun) => number) => (Array.isArray(starts) ? { medianMs: Math.round(median(starts.map(pick))), runsMs: starts.map((r) => Math.round(pick(r))) } : { skipped: starts });
  const fe = summarize((r) => r.firstEventMs);
  const tr = summarize((r) => r.tracingMs);
  const report = {
    bench: 'api',
    seconds,
    connections,
    rawQueueAddPerSec: Math.round(raw),
    postPerSec: Math.round(post.rps),
    postLatencyMs: { p50: post.p50, p99: post.p99 },
    postNon2xx: post.non2xx,
    ratio: Number(ratio.toFixed(3)),
    ratioTarget: 0.5,
    ratioOk: ratio >= 0.5,
    postToTracing: tr,
    postToFirstEvent: fe,
    startPhasesMedianMs: Array.isArray(starts)
      ? Object.fromEntries((['runnerSpawned', 'runnerStarted', 'targetsResolved', 'gadgetAttached'] as const).map((k) => [k, Math.round(median(starts.map((r) => r.phases[k])))]))
      : null,
    startTargetMs: 500,
    postToTracingOk: Array.isArray(starts) ? median(starts.map((r) => r.tracingMs)) < 500 : null,
    postToFirstEventOk: Array.isArray(starts) ? median(starts.map((r) => r.firstEventMs)) < 500 : null,
  };
  console.log(JSON.stringify(report));
} finally {
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
}
