/**
 * A node where bpffs and tracefs are not mounted (a fresh pod's /sys): in a private mount namespace
 * with both unmounted, the real runner mounts them itself and traces.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from './support/cgroups.ts';
import { readEvents, readSummary, startRunner } from './runner-process.ts';

function skipReason(): string | undefined {
  const kernel = kernelTestSkipReason();
  if (kernel) return kernel;
  if (!existsSync('/usr/bin/unshare')) return 'needs unshare (util-linux) for a private mount namespace';
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
  if (!mounts.includes(' /sys/kernel/tracing ') || !mounts.includes(' /sys/fs/bpf ')) return 'tracefs/bpffs are not at the usual places here';
  return undefined;
}
const skip = skipReason();
let cg: TestCgroup;
let out: string;

before(() => {
  if (skip) return;
  cg = createTestCgroup(uniqueCgroupPath('kernelfs'));
  out = mkdtempSync(join(tmpdir(), 'tracejob-runner-kfs-'));
});
after(async () => {
  await cg?.destroy();
  if (out) rmSync(out, { recursive: true, force: true });
});

test('mounts missing bpffs and tracefs, then traces', { skip }, async () => {
  const privateNs = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', 'umount /sys/kernel/tracing && umount /sys/fs/bpf && exec "$0" "$@"'];
  const runner = startRunner(['--gadget', 'exec', '--duration', '2', '--cgroup', cg.path, '--out', out], {}, privateNs);
  await runner.waitForStep('session');
  await cg.run('/bin/true', ['kfs-marker']);
  const { code } = await runner.exited;
  assert.equal(code, 0, runner.stderr());
  const fsSteps = runner.logs.filter((l) => l.step === 'kernel-fs').map((l) => [l.fs, l.action]);
  assert.deepEqual(fsSteps, [['bpf', 'mounted'], ['tracefs', 'mounted']]);
  assert.ok(readEvents(out).some((e) => Array.isArray(e.argv) && e.argv.includes('kfs-marker')));
  assert.equal(readSummary(out).stopReason, 'deadline');
  assert.match(readFileSync('/proc/self/mountinfo', 'utf8'), / \/sys\/kernel\/tracing /, "the host's mounts are untouched");
});
