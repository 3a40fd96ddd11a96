import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bareContainerId, normalizePodUid, parseContainerDirName, parsePodDirName } from './cgroup-names.ts';

const ID = 'a'.repeat(32) + '0123456789abcdef0123456789abcdef';
const UID = '2f0c1e7a-9b3d-4c5e-8f61-0a1b2c3d4e5f';

test('container scopes of every runtime (systemd driver) name their runtime and id', () => {
  assert.deepEqual(parseContainerDirName(`cri-containerd-${ID}.scope`), { containerId: ID, runtime: 'containerd' });
  assert.deepEqual(parseContainerDirName(`crio-${ID}.scope`), { containerId: ID, runtime: 'cri-o' });
  assert.deepEqual(parseContainerDirName(`docker-${ID}.scope`), { containerId: ID, runtime: 'docker' });
});

test('cgroupfs driver: a bare id under a pod is containerd, under docker/ is docker, crio-<id> is CRI-O', () => {
  assert.deepEqual(parseContainerDirName(ID, `pod${UID}`), { containerId: ID, runtime: 'containerd' });
  assert.deepEqual(parseContainerDirName(ID, 'docker'), { containerId: ID, runtime: 'docker' });
  assert.deepEqual(parseContainerDirName(`crio-${ID}`, `pod${UID}`), { containerId: ID, runtime: 'cri-o' });
});

test('directories that are not containers are not taken for one', () => {
  for (const name of ['kubepods.slice', 'system.slice', 'init.scope', `crio-conmon-${ID}.scope`, 'user-0.slice', 'abc', ID.slice(0, 63)]) {
    assert.equal(parseContainerDirName(name, 'whatever'), undefined, name);
  }
});

test('pod directories: systemd (with QoS, guaranteed without) and cgroupfs, uid with dashes', () => {
  const underscored = UID.replace(/-/g, '_');
  assert.equal(parsePodDirName(`kubepods-burstable-pod${underscored}.slice`), UID);
  assert.equal(parsePodDirName(`kubepods-besteffort-pod${underscored}.slice`), UID);
  assert.equal(parsePodDirName(`kubepods-pod${underscored}.slice`), UID);
  assert.equal(parsePodDirName(`pod${UID}`), UID);
  assert.equal(parsePodDirName('kubepods-burstable.slice'), undefined);
  assert.equal(parsePodDirName('burstable'), undefined);
});

test('container ids and pod uids are normalised as the scheduler may send them', () => {
  assert.equal(bareContainerId(`containerd://${ID.toUpperCase()}`), ID);
  assert.equal(bareContainerId(`cri-o://${ID}`), ID);
  assert.equal(normalizePodUid(UID.replace(/-/g, '_').toUpperCase()), UID);
});
