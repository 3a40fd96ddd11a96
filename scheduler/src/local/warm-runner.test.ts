/**
 * The local backend's warm runner (RUNNER_PREWARM): a real runner started ahead with --await-job
 * takes the next job from its stdin, traces a real cgroup (real BPF), writes its log into the
 * run's directory; another one waits for the job after; close() stops the one that waits; a waiting
 * runner whose scheduler goes away exits by itself.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../../test/support/cgroups.ts';
import { startTestRedis, type TestRedis } from '../../../test/support/redis.ts';
import { LocalBackend } from './local-backend.ts';
import { runnerHandlesSignals } from './runner-readiness.ts';

const repo = new URL('../../..', import.meta.url).pathname;
const runnerCommand = [process.execPath, join(repo, 'bin/tracejob-runner.js')];
const skip = kernelTestSkipReason();

let redis: TestRedis;
let cg: TestCgroup;
let dataDir: string;
before(async () => {
  if (skip) return;
  redis = await startTestRedis();
  cg = createTestCgroup(uniqueCgroupPath('warm'));
  dataDir = mkdtempSync(join(tmpdir(), 'tracejob-warm-'));
});
after(async () => {
  if (skip) return;
  await cg.destroy();
  await redis.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const warmLogs = () => readdirSync(join(dataDir, 'warm-runners'));

test('a warm runner takes the next job, traces it, and another one waits for the job after', { skip }, async (t) => {
  const backend = new LocalBackend({ redis: redis.client(), nodeName: 'warm-node', dataDir, runnerCommand, graceSeconds: 5, logger: pino({ level: 'silent' }), prewarm: true });
  t.after(() => backend.close());
  assert.equal(warmLogs().length, 1, 'one runner started ahead, at construction');
  const traceId = randomUUID();
  // The loop says "looping" once it runs (a busy machine can take seconds to start it).
  const workload = cg.spawn('/bin/sh', ['-c', 'echo looping; while :; do /bin/true warm; sleep 0.05; done']);
  t.after(() => workload.kill('SIGKILL'));
  await once(workload.stdout!, 'data');
  const running: string[] = [];
  const [outcome] = await backend.run(
    [{ traceId, node: 'warm-node', gadget: 'exec', params: {}, durationSeconds: 2, maxEvents: 1000, targets: { cgroupPaths: [cg.path] } }],
    { signal: new AbortController().signal, onNodeRunning: (n) => running.push(n) },
  );
  assert.equal(outcome?.status, 'succeeded', JSON.stringify(outcome));
  assert.deepEqual(running, ['warm-node']);
  const runDir = join(dataDir, 'runs', traceId, 'warm-node');
  const log = readFileSync(join(runDir, 'runner.log'), 'utf8');
  assert.match(log, /"step":"session"/, 'the warm runner logged its run into the run directory');
  const events = readFileSync(join(runDir, 'out', 'events.ndjson'), 'utf8').trim().split('\n');
  assert.ok(events.some((l) => l.includes('"warm"')), `the workload's execs were traced: ${events.slice(0, 3).join('\n')}\n${log}`);
  assert.equal(readFileSync(join(runDir, 'starts.log'), 'utf8').trim().split('\n').length, 1);
  assert.equal(warmLogs().length, 1, 'the next warm runner is waiting');
  const waiting = Number(readdirSync('/proc').find((p) => /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('--await-job') && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(repo)));
  assert.ok(waiting > 0, 'a --await-job runner process exists');
  assert.equal(runnerHandlesSignals(waiting), true);
  await backend.close();
  assert.equal(runnerHandlesSignals(waiting), undefined, 'close() stopped the waiting runner');
});

test('a waiting runner whose stdin closes (its scheduler went away) exits by itself, having traced nothing', { skip }, async () => {
  const child = spawn(runnerCommand[0]!, [...runnerCommand.slice(1), '--await-job'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  child.stdin.end();
  const [code, signal] = await exited;
  assert.equal(signal, null);
  assert.equal(code, 0, stderr);
});
