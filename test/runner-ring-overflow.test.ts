/**
 * A burst that overflows the ring buffer is counted exactly: the real runner (open gadget, real
 * cgroup) is pinned to one CPU and a storm runs there under SCHED_FIFO, so neither the runner's
 * reader thread nor its event loop can drain the ring while the storm lasts. Every operation is then
 * either an event in events.ndjson or counted in lostEvents, and the runner logs the episode of
 * drops (start and stop).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { kernelTestSkipReason } from './support/cgroups.ts';
import { readEvents, readSummary, startRunner } from './runner-process.ts';
import { runOpenStorm, useStormFixture } from './runner-storm-support.ts';

const skip = kernelTestSkipReason();
const fx = useStormFixture('ring-overflow', skip);

test('a burst that overflows the ring: events + lost = operations, and the drops are logged', { skip }, async () => {
  const target = join(fx.dir, 'burst-target');
  writeFileSync(target, 'x');
  const out = join(fx.dir, 'out');
  const cpu = cpus().length - 1;
  const runner = startRunner([
    '--gadget', 'open', '--cgroup', fx.cg.path, '--param', `pathPrefix=${target}`, '--duration', '120s',
    '--max-events', '100000000', '--ring-buffer-per-cpu', '4096', '--out', out,
  ]);
  try {
    const session = await runner.waitForStep('session');
    assert.equal(session.ringBufferBytes, 256 << 10, 'the smallest ring the runner makes');
    // every thread of the runner on the storm's CPU, where a SCHED_FIFO storm leaves them no time
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(runner.child.pid)], { stdio: 'ignore' });
    const storm = await runOpenStorm({ bin: fx.bin, cgroup: fx.cg, path: target, seconds: 0.3, cpu, prefix: ['chrt', '-f', '50'] });
    runner.child.kill('SIGTERM');
    const { code } = await runner.exited;
    assert.equal(code, 0, runner.stderr());
    const summary = readSummary(out);
    console.log(`burst: ${storm.ops} opens in ${storm.seconds.toFixed(2)} s; ${summary.events} events, ${summary.lostEvents} lost`);
    const lines = readEvents(out).filter((e) => e.path === target).length;
    assert.equal(lines, summary.events, 'events.ndjson holds every event the summary counts');
    assert.ok(summary.lostEvents > 0, `a 256 KiB ring cannot hold ${storm.ops} opens (${summary.events} kept)`);
    assert.equal(summary.events + summary.lostEvents, storm.ops, `${summary.events} events + ${summary.lostEvents} lost = ${storm.ops} opens`);
    const loss = runner.logs.filter((l) => l.step === 'loss');
    assert.equal(loss[0]?.kind, 'started', runner.stderr());
    assert.equal(loss.at(-1)?.kind, 'stopped');
    assert.equal(loss.at(-1)?.lostEvents, summary.lostEvents);
  } finally {
    runner.child.kill('SIGKILL');
  }
});
