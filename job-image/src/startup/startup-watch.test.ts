import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cgroupLevelOf, resolveStartupParents, StartupWatch } from './startup-watch.ts';

// Plain directories stand in for cgroup directories here: the watch only reads names and inodes.
const root = mkdtempSync(join(tmpdir(), 'tj-startup-watch-'));
after(() => rmSync(root, { recursive: true, force: true }));

const dir = (rel: string) => {
  const p = join(root, rel);
  mkdirSync(p, { recursive: true });
  return { path: p, id: Number(statSync(p, { bigint: true }).ino) };
};
const ev = (cgroupId: number, pid = 1) => ({ cgroupId, pid, comm: 'sh', timestamp: '1764600000000000000' });

test('the first event of a cgroup created after the snapshot is the start; earlier ones of old cgroups are skipped and counted', () => {
  const uid = '0b5d4e2a-1c3f-4a5b-9c7d-8e9f0a1b2c3d';
  const pod = dir(`kubepods/pod${uid}`);
  const old = dir(`kubepods/pod${uid}/${'a'.repeat(64)}`);
  const { parents, notFound } = resolveStartupParents({ pods: [{ podUid: uid, pod: 'web-1', namespace: 'shop' }, { podUid: 'ffffffff-0000-4000-8000-000000000000' }] }, root);
  assert.equal(parents.length, 1);
  assert.equal(parents[0]!.id, pod.id);
  assert.deepEqual(parents[0]!.attribution, { namespace: 'shop', pod: 'web-1' });
  assert.equal(notFound.length, 1);

  const watch = new StartupWatch(parents, 60);
  watch.snapshot();
  const starts: unknown[] = [];
  assert.equal(watch.observe(ev(old.id), (s) => starts.push(s)), 'skip');
  assert.equal(watch.observe(ev(pod.id), (s) => starts.push(s)), 'skip', "the pod's own cgroup existed before");
  const id = 'b'.repeat(64);
  const fresh = dir(`kubepods/pod${uid}/cri-containerd-${id}.scope`);
  assert.equal(watch.observe(ev(fresh.id, 4242), (s) => starts.push(s)), 'record');
  assert.equal(watch.observe(ev(old.id), (s) => starts.push(s)), 'record', 'after the start, the whole pod is recorded');
  assert.equal(starts.length, 1);
  assert.deepEqual(watch.start, { at: new Date(1_764_600_000_000).toISOString(), cgroupId: fresh.id, pid: 4242, comm: 'sh', cgroupPath: fresh.path, containerId: id, namespace: 'shop', pod: 'web-1' });
  const o = watch.observation();
  assert.equal(o.eventsBeforeStart, 2);
  assert.equal(o.timeoutSeconds, 60);
  assert.deepEqual(watch.attributionOf(old.id), { namespace: 'shop', pod: 'web-1', path: old.path, containerId: 'a'.repeat(64) });
  assert.equal(watch.attributionOf(123456789), undefined);
});

test('cgroupPaths parents; the level is counted on the hierarchy (cgroup.type files), not from the given root', () => {
  const a = dir('slice-a');
  const b = dir('slice-a/b');
  for (const p of [a.path, b.path]) writeFileSync(join(p, 'cgroup.type'), 'domain\n');
  assert.equal(cgroupLevelOf(b.path), 2);
  assert.equal(cgroupLevelOf(root), 0);
  const { parents } = resolveStartupParents({ cgroupPaths: ['slice-a/b', 'missing'] }, root);
  assert.deepEqual(parents.map((p) => ({ id: p.id, level: p.level })), [{ id: b.id, level: 2 }]);
  const watch = new StartupWatch(parents, 5);
  assert.deepEqual(watch.ancestorLevels, [2]);
  watch.snapshot();
  watch.timedOut();
  assert.equal(watch.observation().start, undefined);
});
