/**
 * How a real tracejob-runner (exec gadget, real cgroup) stops: SIGTERM leaves every event it saw on
 * disk and a summary with stop reason `signal`; SIGUSR1 cancels; SIGKILL still leaves what was
 * flushed; --max-events stops at the cap; the deadline stops it within a second of the duration.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from './support/cgroups.ts';
import { untilRunnerHandlesSignals } from '../scheduler/src/local/runner-readiness.ts';
import { readEvents, readSummary, startRunner } from './runner-process.ts';

const skip = kernelTestSkipReason();
let cg: TestCgroup;
let outRoot: string;
const loops: ChildProcess[] = [];

before(() => {
  if (skip) return;
  cg = createTestCgroup(uniqueCgroupPath('stop'));
  outRoot = mkdtempSync(join(tmpdir(), 'tracejob-runner-stop-'));
});
after(async () => {
  for (const l of loops) l.kill('SIGKILL');
  await cg?.destroy();
  if (outRoot) rmSync(outRoot, { recursive: true, force: true });
});

/** Run `count` execs of /bin/true <tag>-<i> in the cgroup, to completion. */
async function burst(tag: string, count: number): Promise<void> {
  const { code } = await cg.run('/bin/sh', ['-c', `i=0; while [ $i -lt ${count} ]; do i=$((i+1)); /bin/true ${tag}-$i; done`]);
  assert.equal(code, 0);
}

function markers(outDir: string, tag: string): Set<string> {
  const seen = new Set<string>();
  for (const e of readEvents(outDir)) {
    const arg = Array.isArray(e.argv) ? (e.argv as string[]).find((a) => a.startsWith(`${tag}-`)) : undefined;
    if (arg) seen.add(arg);
  }
  return seen;
}

test('SIGTERM mid-trace: every event seen is on disk, summary says signal, exit 0', { skip }, async () => {
  const out = join(outRoot, 'term');
  const runner = startRunner(['--gadget', 'exec', '--duration', '60', '--cgroup', cg.path, '--out', out]);
  await runner.waitForStep('session');
  await burst('term', 150);
  runner.child.kill('SIGTERM');
  const { code, ms } = await runner.exited;
  assert.equal(code, 0, runner.stderr());
  assert.ok(ms < 30_000, 'stopped long before its 60 s');
  const seen = markers(out, 'term');
  assert.equal(seen.size, 150, `all 150 execs of the burst on disk (found ${seen.size})`);
  const summary = readSummary(out);
  assert.equal(summary.stopReason, 'signal');
  assert.equal(summary.events, readEvents(out).length, 'the summary counts exactly the lines on disk');
  assert.equal(summary.truncated, false);
  assert.deepEqual(summary.cgroupIds, [cg.id]);
  assert.deepEqual(runner.logs.filter((l) => 'raw' in l && l.raw !== ''), [], 'without a terminal or --progress: JSON log lines only');
  assert.ok(['start', 'targets', 'session', 'signal', 'stopped', 'summary', 'exit'].every((step) => runner.logs.some((l) => l.step === step && l.traceId)));
});

test('SIGUSR1 cancels: stop reason cancelled, events kept', { skip }, async () => {
  const out = join(outRoot, 'cancel');
  const runner = startRunner(['--gadget', 'exec', '--duration', '60', '--cgroup', cg.path, '--out', out]);
  await runner.waitForStep('session');
  await burst('cancel', 20);
  runner.child.kill('SIGUSR1');
  const { code } = await runner.exited;
  assert.equal(code, 0, runner.stderr());
  assert.equal(readSummary(out).stopReason, 'cancelled');
  assert.equal(markers(out, 'cancel').size, 20);
});

test('SIGKILL: events older than the flush interval are already on disk', { skip }, async () => {
  const out = join(outRoot, 'kill');
  const runner = startRunner(['--gadget', 'exec', '--duration', '60', '--cgroup', cg.path, '--out', out]);
  await runner.waitForStep('session');
  await burst('kill', 50);
  await sleep(700); // > 200 ms flush interval, with room for a busy machine
  runner.child.kill('SIGKILL');
  await runner.exited;
  assert.equal(markers(out, 'kill').size, 50);
});

test('--max-events stops at the cap: exactly N events on disk, stop reason max-events', { skip }, async () => {
  const out = join(outRoot, 'cap');
  const loop = cg.spawn('/bin/sh', ['-c', 'while :; do /bin/true cap; sleep 0.02; done']);
  loops.push(loop);
  try {
    const runner = startRunner(['--gadget', 'exec', '--duration', '60', '--cgroup', cg.path, '--max-events', '7', '--out', out]);
    const { code, ms } = await runner.exited;
    assert.equal(code, 0, runner.stderr());
    assert.ok(ms < 30_000, 'stopped by the cap, not the duration');
    assert.equal(readEvents(out).length, 7);
    const summary = readSummary(out);
    assert.equal(summary.stopReason, 'max-events');
    assert.equal(summary.events, 7);
  } finally {
    loop.kill('SIGKILL');
  }
});

test('--max-bytes stops at the byte cap and marks the result truncated', { skip }, async () => {
  const out = join(outRoot, 'bytes');
  const loop = cg.spawn('/bin/sh', ['-c', 'while :; do /bin/true bytes; sleep 0.02; done']);
  loops.push(loop);
  try {
    const runner = startRunner(['--gadget', 'exec', '--duration', '60', '--cgroup', cg.path, '--max-bytes', '3000', '--out', out]);
    const { code } = await runner.exited;
    assert.equal(code, 0, runner.stderr());
    const summary = readSummary(out);
    assert.equal(summary.stopReason, 'max-bytes');
    assert.equal(summary.truncated, true);
    const { size } = statSync(join(out, 'events.ndjson'));
    assert.ok(size <= 3000 && size > 0, `events.ndjson is ${size} bytes`);
    assert.equal(summary.events, readEvents(out).length);
  } finally {
    loop.kill('SIGKILL');
  }
});

test('the deadline stops the trace within 1 s of the duration', { skip }, async () => {
  const out = join(outRoot, 'deadline');
  const runner = startRunner(['--gadget', 'exec', '--duration', '2', '--cgroup', cg.path, '--out', out, '--progress']);
  await runner.waitForStep('session');
  const tracingSince = Date.now();
  const { code } = await runner.exited;
  const observedMs = Date.now() - tracingSince;
  assert.equal(code, 0, runner.stderr());
  const summary = readSummary(out);
  assert.equal(summary.stopReason, 'deadline');
  const tracedMs = Date.parse(summary.stoppedAt) - Date.parse(summary.startedAt);
  console.log(`deadline 2000 ms: traced ${tracedMs} ms (runner clock), exited ${observedMs} ms after the session log line`);
  assert.ok(tracedMs >= 1950 && tracedMs <= 3000, `traced for ${tracedMs} ms`);
  assert.ok(observedMs <= 5000, `runner exited ${observedMs} ms after tracing began`);
  const progress = runner.logs.filter((l) => typeof l.raw === 'string' && /^elapsed \d+\.\ds\/2s {2}events \d+ {2}lost \d+$/.test(l.raw));
  assert.ok(progress.length >= 1, `--progress prints the progress line about once a second:\n${runner.stderr()}`);
});

test('a disk that fills up stops the trace with an error that says how many events were not written', { skip }, async () => {
  const out = join(outRoot, 'full');
  mkdirSync(out);
  symlinkSync('/dev/full', join(out, 'events.ndjson'));
  const runner = startRunner(['--gadget', 'exec', '--duration', '30', '--cgroup', cg.path, '--out', out]);
  await runner.waitForStep('session');
  await burst('full', 10);
  const { code } = await runner.exited;
  assert.equal(code, 1, runner.stderr());
  const summary = readSummary(out);
  assert.equal(summary.stopReason, 'error');
  assert.match(summary.error ?? '', /ENOSPC.*\d+ event\(s\) not written/);
});

test('a SIGTERM while the runner is still starting is not lost: summary with stop reason signal, exit 0', { skip }, async () => {
  const out = join(outRoot, 'early');
  const runner = startRunner(['--gadget', 'exec', '--duration', '60', '--cgroup', cg.path, '--out', out]);
  // The earliest a node process can catch a signal is its first lines of JavaScript (the launcher's
  // handlers, which then mark the process); send it then, while the runner still loads.
  assert.equal(await untilRunnerHandlesSignals(runner.child.pid!, 30_000), true, 'the launcher handles signals');
  runner.child.kill('SIGTERM');
  const { code, signal } = await runner.exited;
  assert.equal(signal, null, 'not killed by the signal');
  assert.equal(code, 0, runner.stderr());
  assert.equal(readSummary(out).stopReason, 'signal');
  assert.equal(
    runner.logs.some((l) => l.step === 'session' && l.stopReason === undefined),
    false,
    'the signal came before the gadget was attached: it never traced',
  );
});
