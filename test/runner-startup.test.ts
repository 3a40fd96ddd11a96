/**
 * The real tracejob-runner with a startup job (targets.pods + startup), the real exec gadget and
 * real cgroup directories in the shapes kubelet makes: two target pods at different cgroup levels
 * (systemd driver burstable, cgroupfs driver guaranteed), one with a container already running.
 * The runner filters on the pods' own cgroups with the ancestor check; a container cgroup created
 * later under a target pod is traced from its first exec and named in summary.startup, while the
 * running container's events before the start are counted, not recorded, and a container started
 * in a pod that is not a target is never seen.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from './support/cgroups.ts';
import { containerIdLike } from './runner-cgroup-shapes.ts';
import { readEvents, readSummary, startRunner } from './runner-process.ts';

const skip = kernelTestSkipReason();
let parent: TestCgroup;
let outRoot: string;
let running: TestCgroup;
const created: TestCgroup[] = [];
const loops: ChildProcess[] = [];

const uidA = randomUUID();
const uidB = randomUUID();
const uidOther = randomUUID();
const podA = `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uidA.replace(/-/g, '_')}.slice`;
const podB = `kubepods/pod${uidB}`;
const podOther = `kubepods/pod${uidOther}`;

function add(relPath: string): TestCgroup {
  const cg = createTestCgroup(relPath, parent.path);
  created.push(cg);
  return cg;
}

before(() => {
  if (skip) return;
  parent = createTestCgroup(uniqueCgroupPath('startup-shapes'));
  outRoot = mkdtempSync(join(tmpdir(), 'tracejob-runner-startup-'));
  add(podB);
  add(podOther);
  running = add(`${podA}/cri-containerd-${containerIdLike()}.scope`);
  loops.push(running.spawn('/bin/sh', ['-c', 'while :; do /bin/true already-running; sleep 0.1; done']));
});

after(async () => {
  for (const l of loops) l.kill('SIGKILL');
  for (const cg of [...created].reverse()) await cg.destroy();
  await parent?.destroy();
  if (outRoot) rmSync(outRoot, { recursive: true, force: true });
});

test('a startup job waits on the target pods and traces the container that starts next from its first exec', { skip }, async () => {
  const out = join(outRoot, 'startup');
  const specFile = join(outRoot, 'startup.json');
  writeFileSync(
    specFile,
    JSON.stringify({
      traceId: 'tr-startup',
      node: 'node-s',
      gadget: 'exec',
      params: {},
      durationSeconds: 3,
      maxEvents: 100000,
      targets: {
        pods: [
          { podUid: uidA, pod: 'web-a', namespace: 'shop' },
          { podUid: uidB, pod: 'web-b', namespace: 'shop' },
        ],
        startup: { timeoutSeconds: 60 },
      },
    }),
  );
  const runner = startRunner(['--spec', specFile, '--cgroup-root', parent.path, '--out', out]);
  const waiting = await runner.waitForStep('startup');
  const base = parent.relPath.split('/').length; // the test parent's own level below the v2 root
  assert.deepEqual([...(waiting.ancestorLevels as number[])].sort(), [base + 2, base + 3], 'the two pods sit at different levels, counted from the real root');

  // the running container of web-a execs while the runner waits: seen, counted, not recorded
  assert.equal((await running.run('/bin/true', ['before-start'])).code, 0);
  // a container starts in a pod that is not a target: never traced
  const stranger = add(`${podOther}/${containerIdLike()}`);
  assert.equal((await stranger.run('/bin/true', ['not-a-target'])).code, 0);
  // the next start in a target pod (cgroupfs shape: a bare 64-hex id under the pod)
  const id = containerIdLike();
  const started = add(`${podB}/${id}`);
  assert.equal((await started.run('/bin/true', ['first-start'])).code, 0);
  // after the start the whole pods are traced, web-a's running container too
  assert.equal((await running.run('/bin/true', ['after-start'])).code, 0);

  const { code } = await runner.exited;
  assert.equal(code, 0, runner.stderr());
  const events = readEvents(out);
  const first = events[0];
  assert.ok(first, 'events were recorded');
  assert.equal(first.cgroupId, started.id, `the first event is the new container's: ${JSON.stringify(first)}`);
  assert.deepEqual(first.argv, ['/bin/true', 'first-start']);
  assert.equal(first.pod, 'web-b');
  assert.equal(first.namespace, 'shop');
  assert.ok(!events.some((e) => Array.isArray(e.argv) && e.argv.includes('not-a-target')), 'the other pod stays filtered out in the kernel');

  const summary = readSummary(out);
  assert.equal(summary.stopReason, 'deadline');
  assert.equal(summary.error, undefined);
  assert.ok(summary.startup?.start, JSON.stringify(summary.startup));
  assert.equal(summary.startup.start.cgroupId, started.id);
  assert.equal(summary.startup.start.containerId, id);
  assert.equal(summary.startup.start.pod, 'web-b');
  assert.equal(summary.startup.start.namespace, 'shop');
  assert.ok(summary.startup.eventsBeforeStart > 0, 'the running container of web-a was seen and counted while waiting');
  assert.ok(!events.some((e) => Array.isArray(e.argv) && e.argv.includes('before-start')), 'what ran before the start is not recorded');
  assert.ok(events.some((e) => Array.isArray(e.argv) && e.argv.includes('after-start')), 'what runs in the pod after the start is');
});
