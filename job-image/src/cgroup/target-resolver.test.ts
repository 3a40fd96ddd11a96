import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { kernelTestSkipReason, cgroupV2Root } from '../../../test/support/cgroups.ts';
import { cgroupShapes, containerIdLike, createShapeTree, type ShapeTree } from '../../../test/runner-cgroup-shapes.ts';
import { CgroupResolver } from './target-resolver.ts';
import { buildCgroupIndex } from './cgroup-index.ts';

const skip = kernelTestSkipReason();
let tree: ShapeTree;

before(() => {
  if (!skip) tree = createShapeTree(cgroupShapes());
});
after(async () => {
  await tree?.destroy();
});

test('every container path shape resolves to its directory and its inode as cgroup id', { skip }, () => {
  const resolver = new CgroupResolver(
    { containers: tree.cgroups.map(({ shape }) => ({ containerId: shape.containerId, namespace: 'ns', pod: shape.label, container: 'c' })) },
    { root: tree.parent.path },
  );
  const found = resolver.scan();
  assert.deepEqual(resolver.targetsNotFound(), []);
  for (const { shape, cgroup } of tree.cgroups) {
    const hit = found.find((f) => f.target === shape.containerId);
    assert.ok(hit, `${shape.label} not resolved`);
    assert.equal(hit.id, cgroup.id, shape.label);
    assert.equal(hit.path, cgroup.path, shape.label);
    assert.deepEqual(resolver.attributionOf(cgroup.id), { namespace: 'ns', pod: shape.label, container: 'c' });
  }
});

test('a pod uid resolves to all its containers; one started later is found by the rescan', { skip }, () => {
  const podShapes = tree.cgroups.filter(({ shape }) => shape.podUid);
  const resolver = new CgroupResolver({ pods: podShapes.map(({ shape }) => ({ podUid: shape.podUid!, namespace: 'shop', pod: 'web' })) }, { root: tree.parent.path });
  const first = resolver.scan();
  assert.deepEqual(first.map((f) => f.id).sort(), podShapes.map(({ cgroup }) => cgroup.id).sort());
  assert.ok(resolver.wantsRescan, 'pods are watched for new containers');
  const { shape } = podShapes[0]!;
  const sibling = tree.add(shape.relPath.replace(shape.containerId, containerIdLike()));
  const second = resolver.scan();
  assert.deepEqual(second.map((f) => f.id), [sibling.id]);
  assert.deepEqual(resolver.attributionOf(sibling.id), { namespace: 'shop', pod: 'web' });
  assert.deepEqual(resolver.scan(), [], 'nothing new: nothing added twice');
});

test('missing targets are reported by name with a reason; found ones still resolve', { skip }, () => {
  const missing = containerIdLike();
  const resolver = new CgroupResolver(
    {
      containers: [{ containerId: `containerd://${tree.cgroups[0]!.shape.containerId}` }, { containerId: missing }],
      pods: [{ podUid: '00000000-0000-0000-0000-000000000000' }],
      cgroupPaths: ['no/such/dir'],
      pids: [2 ** 22 + 17],
    },
    { root: tree.parent.path },
  );
  const found = resolver.scan();
  assert.deepEqual(found.map((f) => f.id), [tree.cgroups[0]!.cgroup.id]);
  const notFound = resolver.targetsNotFound();
  assert.deepEqual(notFound.map((n) => n.target).sort(), [missing, '00000000-0000-0000-0000-000000000000', 'no/such/dir', String(2 ** 22 + 17)].sort());
  for (const n of notFound) assert.ok(n.reason.length > 10, n.reason);
});

test('a container that appears after the first scan is found by a rescan and leaves targetsNotFound', { skip }, () => {
  const late = containerIdLike();
  const resolver = new CgroupResolver({ containers: [{ containerId: late }] }, { root: tree.parent.path });
  assert.deepEqual(resolver.scan(), []);
  assert.deepEqual(resolver.targetsNotFound().map((n) => n.target), [late]);
  const cg = tree.add(`system.slice/docker-${late}.scope`);
  assert.deepEqual(resolver.scan().map((f) => f.id), [cg.id]);
  assert.deepEqual(resolver.targetsNotFound(), []);
});

test('a pid resolves through /proc/<pid>/cgroup; a cgroup path relative to the root or absolute', { skip }, async () => {
  const { cgroup } = tree.cgroups[1]!;
  const child = cgroup.spawn('sleep', ['30']);
  try {
    await waitFor(() => cgroupProcs(cgroup.path).includes(child.pid!));
    const resolver = new CgroupResolver(
      { pids: [child.pid!], cgroupPaths: [tree.cgroups[3]!.shape.relPath, tree.cgroups[2]!.cgroup.path] },
      { root: tree.parent.path, ownMount: cgroupV2Root() },
    );
    const found = resolver.scan();
    assert.deepEqual(resolver.targetsNotFound(), []);
    assert.deepEqual(found.map((f) => f.id).sort(), [cgroup.id, tree.cgroups[2]!.cgroup.id, tree.cgroups[3]!.cgroup.id].sort());
    assert.equal(found.find((f) => f.target === String(child.pid))?.id, cgroup.id);
  } finally {
    child.kill('SIGKILL');
  }
});

test('the index walk is bounded: a depth limit stops it and says so', { skip }, () => {
  const shallow = buildCgroupIndex(tree.parent.path, { maxDepth: 2 });
  assert.equal(shallow.truncated, true);
  const depths = [...shallow.byContainerId.values()].map((d) => d.relPath.split('/').length);
  assert.ok(depths.length > 0 && depths.every((d) => d <= 2), `only containers within two levels: ${depths}`);
  const full = buildCgroupIndex(tree.parent.path);
  assert.equal(full.truncated, false);
  assert.ok(full.byContainerId.size >= tree.cgroups.length);
});

function cgroupProcs(path: string): number[] {
  return readFileSync(`${path}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number);
}
async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i += 1) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), 'condition not met in time');
}
