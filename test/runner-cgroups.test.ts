/**
 * The real tracejob-runner CLI with the real exec gadget against real cgroup directories in every
 * supported path shape: it resolves each, traces only the targets (a busy neighbour cgroup is
 * filtered out in the kernel), attributes events, reports a missing target, and picks up a pod's
 * container that starts mid-trace.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { kernelTestSkipReason, type TestCgroup } from './support/cgroups.ts';
import { cgroupShapes, containerIdLike, createShapeTree, type ShapeTree } from './runner-cgroup-shapes.ts';
import { readEvents, readSummary, startRunner } from './runner-process.ts';

const skip = kernelTestSkipReason();
let tree: ShapeTree;
let neighbour: TestCgroup;
let outRoot: string;
const loops: ChildProcess[] = [];

/** A process in `cg` that execs /bin/true about five times a second, each with its own marker. */
function execLoop(cg: TestCgroup, marker: string): void {
  loops.push(cg.spawn('/bin/sh', ['-c', `while :; do /bin/true ${marker}; sleep 0.2; done`]));
}

before(() => {
  if (skip) return;
  tree = createShapeTree(cgroupShapes());
  neighbour = tree.add('system.slice/neighbour.service');
  outRoot = mkdtempSync(join(tmpdir(), 'tracejob-runner-cg-'));
  for (const { shape, cgroup } of tree.cgroups) execLoop(cgroup, shape.containerId);
  execLoop(neighbour, 'neighbour');
});

after(async () => {
  for (const l of loops) l.kill('SIGKILL');
  await tree?.destroy();
  if (outRoot) rmSync(outRoot, { recursive: true, force: true });
});

test('resolves every path shape, traces only the targets, attributes events and reports the missing one', { skip }, async () => {
  const out = join(outRoot, 'shapes');
  const missing = containerIdLike();
  const specFile = join(outRoot, 'shapes.json');
  writeFileSync(
    specFile,
    JSON.stringify({
      traceId: 'tr-shapes',
      node: 'node-t',
      gadget: 'exec',
      params: {},
      durationSeconds: 2.5,
      maxEvents: 100000,
      targets: {
        containers: [
          ...tree.cgroups.map(({ shape }, i) => ({ containerId: shape.containerId, namespace: 'shop', pod: `pod-${i}`, container: 'app' })),
          { containerId: missing, namespace: 'shop', pod: 'gone', container: 'app' },
        ],
      },
    }),
  );
  const runner = startRunner(['--spec', specFile, '--cgroup-root', tree.parent.path, '--out', out]);
  const { code } = await runner.exited;
  assert.equal(code, 0, runner.stderr());
  const events = readEvents(out);
  const summary = readSummary(out);
  const expected = new Map(tree.cgroups.map(({ shape, cgroup }, i) => [cgroup.id, { shape, pod: `pod-${i}` }]));
  assert.ok(events.length > 0, 'events were traced');
  for (const e of events) {
    const target = expected.get(e.cgroupId);
    assert.ok(target, `event from a cgroup that is not a target: ${e.cgroupId} ${e.comm} ${JSON.stringify(e.argv)}`);
    assert.equal(e.node, 'node-t');
    assert.equal(e.gadget, 'exec');
    assert.equal(e.namespace, 'shop');
    assert.equal(e.pod, target.pod);
    assert.equal(e.container, 'app');
  }
  for (const [id, { shape }] of expected) {
    assert.ok(
      events.some((e) => e.cgroupId === id && Array.isArray(e.argv) && e.argv.includes(shape.containerId)),
      `${shape.label}: no event of its own process`,
    );
  }
  assert.ok(!events.some((e) => Array.isArray(e.argv) && e.argv.includes('neighbour')), 'the neighbour cgroup was filtered out');
  assert.deepEqual(summary.targetsNotFound.map((t) => t.target), [missing]);
  assert.deepEqual([...summary.cgroupIds].sort(), [...expected.keys()].sort());
  assert.equal(summary.events, events.length);
  assert.equal(summary.stopReason, 'deadline');
  assert.deepEqual(new Set(summary.perContainer.map((c) => c.cgroupId)), new Set(expected.keys()));
  assert.ok(summary.top.comm!.some((t) => t.value === 'true'));
});

test('a pod uid traces its containers, including one started during the trace (rescan)', { skip }, async () => {
  const out = join(outRoot, 'pod');
  const { shape } = tree.cgroups[0]!;
  const runner = startRunner([
    '--gadget', 'exec', '--duration', '4', '--pod-uid', shape.podUid!, '--cgroup-root', tree.parent.path,
    '--out', out, '--rescan-interval', '300ms', '--node', 'node-p',
  ]);
  await runner.waitForStep('session');
  const lateId = containerIdLike();
  const late = tree.add(shape.relPath.replace(shape.containerId, lateId));
  execLoop(late, 'late-container');
  const { code } = await runner.exited;
  assert.equal(code, 0, runner.stderr());
  const events = readEvents(out);
  const ids = new Set(events.map((e) => e.cgroupId));
  assert.deepEqual([...ids].sort(), [tree.cgroups[0]!.cgroup.id, late.id].sort(), 'the pod container and the late one, nothing else');
  assert.ok(events.some((e) => Array.isArray(e.argv) && e.argv.includes('late-container')));
  assert.ok(runner.logs.some((l) => l.step === 'rescan' && l.cgroupId === late.id), 'the rescan is logged');
  assert.deepEqual(readSummary(out).targetsNotFound, []);
});

test('--pid and --cgroup targets resolve too; no target found at all exits 4 with a summary', { skip }, async () => {
  const out = join(outRoot, 'pid');
  const target = tree.cgroups[4]!;
  const pidLoop = target.cgroup.spawn('/bin/sh', ['-c', 'while :; do /bin/true by-pid; sleep 0.2; done']);
  loops.push(pidLoop);
  const runner = startRunner(['--gadget', 'exec', '--duration', '1.5', '--pid', String(pidLoop.pid), '--cgroup', tree.cgroups[5]!.shape.relPath, '--cgroup-root', tree.parent.path, '--out', out]);
  const { code } = await runner.exited;
  assert.equal(code, 0, runner.stderr());
  const ids = new Set(readEvents(out).map((e) => e.cgroupId));
  assert.deepEqual([...ids].sort(), [target.cgroup.id, tree.cgroups[5]!.cgroup.id].sort());

  const none = join(outRoot, 'none');
  const missing = startRunner(['--gadget', 'exec', '--duration', '5', '--container-id', containerIdLike(), '--cgroup-root', tree.parent.path, '--out', none]);
  const ended = await missing.exited;
  assert.equal(ended.code, 4, missing.stderr());
  assert.match(missing.stderr(), /no target found on node/);
  const summary = readSummary(none);
  assert.equal(summary.targetsNotFound.length, 1);
  assert.equal(summary.events, 0);
  assert.match(summary.error ?? '', /no target found/);
});

test('--pid from inside its own cgroup namespace (as in a pod): `/../…` paths resolve by their unique tail', { skip }, async () => {
  const out = join(outRoot, 'cgroupns');
  const home = tree.add('system.slice/runner-home.scope');
  const target = tree.cgroups[0]!;
  const loop = target.cgroup.spawn('/bin/sh', ['-c', 'while :; do /bin/true in-ns; sleep 0.2; done']);
  loops.push(loop);
  const inOwnCgroupNs = ['sh', '-c', `echo $$ > ${home.path}/cgroup.procs && exec unshare --cgroup "$0" "$@"`];
  const runner = startRunner(['--gadget', 'exec', '--duration', '1.5', '--pid', String(loop.pid), '--cgroup-root', tree.parent.path, '--out', out], {}, inOwnCgroupNs);
  const targets = await runner.waitForStep('targets');
  const { code } = await runner.exited;
  assert.equal(code, 0, runner.stderr());
  assert.deepEqual((targets.cgroups as { id: number }[]).map((c) => c.id), [target.cgroup.id]);
  const ids = new Set(readEvents(out).map((e) => e.cgroupId));
  assert.deepEqual([...ids], [target.cgroup.id]);
});
