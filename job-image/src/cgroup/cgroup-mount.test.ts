import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CgroupRootError, cgroupV2MountPoints, findCgroupV2Root, pickCgroupV2Mount } from './cgroup-mount.ts';

const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 23 0:39 / /sys/fs/bpf rw,relatime - bpf bpf rw`;
const PLAIN = `29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate`;
const POD = `${PLAIN}
900 800 0:26 / /host/sys/fs/cgroup rw,relatime master:4 - cgroup2 cgroup2 rw
901 800 0:40 / /host\\040dir rw - cgroup2 cgroup2 rw`;

test('finds the v2 mount of a hybrid machine (/sys/fs/cgroup/unified), skipping the v1 controllers', () => {
  assert.deepEqual(cgroupV2MountPoints(HYBRID), ['/sys/fs/cgroup/unified']);
  assert.equal(pickCgroupV2Mount(cgroupV2MountPoints(HYBRID)), '/sys/fs/cgroup/unified');
});

test('prefers /sys/fs/cgroup when several v2 mounts exist; unescapes mountinfo octal escapes', () => {
  assert.deepEqual(cgroupV2MountPoints(POD), ['/sys/fs/cgroup', '/host/sys/fs/cgroup', '/host dir']);
  assert.equal(pickCgroupV2Mount(cgroupV2MountPoints(POD)), '/sys/fs/cgroup');
});

test('no cgroup2 line: a clear error that says what to do', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tracejob-mountinfo-'));
  const file = join(dir, 'mountinfo');
  writeFileSync(file, HYBRID.split('\n').filter((l) => !l.includes('cgroup2')).join('\n'));
  assert.throws(() => findCgroupV2Root(undefined, file), (err: Error) => err instanceof CgroupRootError && /--cgroup-root/.test(err.message));
});

test('an explicit root that is not a cgroup directory is refused by name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tracejob-notcg-'));
  assert.throws(() => findCgroupV2Root(dir), /cgroup root .* is not a cgroup v2 directory/);
  assert.throws(() => findCgroupV2Root(join(dir, 'missing')), /is not a cgroup v2 directory/);
});

test("an explicit root that is a hybrid host's /sys/fs/cgroup resolves to its unified v2 hierarchy", () => {
  const dir = mkdtempSync(join(tmpdir(), 'tracejob-hybrid-'));
  mkdirSync(join(dir, 'cpu'));
  writeFileSync(join(dir, 'cpu', 'cgroup.procs'), '');
  mkdirSync(join(dir, 'unified'));
  writeFileSync(join(dir, 'unified', 'cgroup.procs'), '');
  assert.equal(findCgroupV2Root(`${dir}/`), join(dir, 'unified'));
  writeFileSync(join(dir, 'cgroup.procs'), '');
  assert.equal(findCgroupV2Root(dir), dir, 'a v2 root itself is taken as it is');
});
