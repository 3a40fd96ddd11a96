import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../../test/support/cgroups.ts';
import { buildGadgetObject, runInCgroup, syntheticRecord, traceDuring } from '../../src/gadget-test-fixture.ts';
import { validateParams } from '../index.ts';
import { decodeMount, mountFlagNames, mountGadget, type MountEvent } from './mount.ts';

const ctx = { bootToWallOffsetNs: 0n };

describe('mount decoder', () => {
  test('a mount(2) with its strings and flags by name', () => {
    const rec = syntheticRecord('mount', {
      'hdr.comm': 'mount',
      flags: 0xc0ed0000 + 6,
      ret: -2,
      op: 0,
      source: 'src',
      target: '/mnt/x',
      fstype: 'tmpfs',
    });
    const e = decodeMount(rec, ctx);
    assert.deepEqual(
      [e.call, e.source, e.target, e.fstype, e.flagNames, e.ret, e.error, e.fromFd, e.attrNames],
      ['mount', 'src', '/mnt/x', 'tmpfs', 'MS_NOSUID|MS_NODEV', -2, 'ENOENT', undefined, undefined],
    );
  });

  test('flag names per call', () => {
    assert.equal(mountFlagNames(1, 2), 'MNT_DETACH');
    assert.equal(mountFlagNames(3, 0x44), 'MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH');
    assert.equal(mountFlagNames(0, (1 << 14) | (1 << 18)), 'MS_REC|MS_PRIVATE');
    assert.equal(mountFlagNames(2, 3), 'FSMOUNT_CLOEXEC|0x2');
  });

  test('config and params', () => {
    assert.deepEqual([...mountGadget.encodeConfig({ failedOnly: true }, true)], [1, 1]);
    assert.equal(validateParams('mount', { failedOnly: 'yes' }).errors[0]?.field, 'failedOnly');
  });
});

/** In a private mount namespace: mount a tmpfs, unmount it, fail a mount, then mount with fsopen/fsmount/move_mount. */
const WORKLOAD = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
d = sys.argv[1].encode()
sc = libc.syscall
def check(r, what):
    if r < 0:
        raise OSError(ctypes.get_errno(), what)
    return r
check(libc.mount(b"tj-src", d, b"tmpfs", 6, b"size=1m"), "mount")
check(libc.umount2(d, 0), "umount2")
print("missing", libc.mount(b"tj-src", d + b"/no/such/dir", b"tmpfs", 0, None), ctypes.get_errno())
fs = check(sc(430, b"tmpfs", 0), "fsopen")
check(sc(431, fs, 6, None, None, 0), "fsconfig")
mnt = check(sc(432, fs, 1, 1), "fsmount")
check(sc(429, mnt, b"", -100, d, 4), "move_mount")
print("fds", fs, mnt, flush=True)
`;

const skip = kernelTestSkipReason();

describe('mount in the kernel', { skip }, () => {
  let traced: TestCgroup;
  let other: TestCgroup;
  let dir: string;
  before(() => {
    buildGadgetObject('mount');
    traced = createTestCgroup(uniqueCgroupPath('mount-traced'));
    other = createTestCgroup(uniqueCgroupPath('mount-other'));
    dir = mkdtempSync(join(tmpdir(), 'tj-mount-'));
  });
  after(async () => {
    await traced?.destroy();
    await other?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const inPrivateNamespace = ['-m', '--propagation', 'private', 'python3', '-c', WORKLOAD];

  test('mount, umount, a failed mount, fsmount and move_mount with exact arguments and results; nothing of the other cgroup', async () => {
    let run = { pid: 0, stdout: '', stderr: '', code: 0 as number | null };
    const { events } = await traceDuring({ gadget: 'mount', cgroupIds: [traced.id] }, async () => {
      run = await runInCgroup(traced, 'unshare', [...inPrivateNamespace, dir]);
      const otherRun = await runInCgroup(other, 'unshare', [...inPrivateNamespace, dir]);
      assert.equal(otherRun.code, 0, otherRun.stderr);
    });
    assert.equal(run.code, 0, run.stderr);
    const [, fs, mnt] = /fds (\d+) (\d+)/.exec(run.stdout)?.map(Number) ?? [];
    assert.match(run.stdout, /missing -1 2/);
    const calls = (events as MountEvent[]).filter((e) => e.comm === 'python3');
    assert.ok(events.every((e) => e.cgroupId === traced.id && e.pid === run.pid));
    assert.deepEqual(
      calls.map((e) => [e.call, e.source, e.target, e.fstype, e.flagNames, e.attrNames, e.fromFd, e.toFd, e.ret, e.error]),
      [
        ['mount', 'tj-src', dir, 'tmpfs', 'MS_NOSUID|MS_NODEV', undefined, undefined, undefined, 0, undefined],
        ['umount', undefined, dir, undefined, '', undefined, undefined, undefined, 0, undefined],
        ['mount', 'tj-src', `${dir}/no/such/dir`, 'tmpfs', '', undefined, undefined, undefined, -2, 'ENOENT'],
        ['fsmount', undefined, undefined, undefined, 'FSMOUNT_CLOEXEC', 'MOUNT_ATTR_RDONLY', fs, undefined, mnt, undefined],
        ['move_mount', '', dir, undefined, 'MOVE_MOUNT_F_EMPTY_PATH', undefined, mnt, -100, 0, undefined],
      ],
    );
    // unshare's own mount(2) making / private, from the same process before its exec
    assert.deepEqual(
      events.filter((e) => e.comm === 'unshare').map((e) => [e.call, e.target, e.flagNames]),
      [['mount', '/', 'MS_REC|MS_PRIVATE']],
    );
  });

  test('failedOnly keeps only the failed call', async () => {
    const { events } = await traceDuring({ gadget: 'mount', params: { failedOnly: true }, cgroupIds: [traced.id] }, async () => {
      await runInCgroup(traced, 'unshare', [...inPrivateNamespace, dir]);
    });
    assert.deepEqual(
      (events as MountEvent[]).map((e) => [e.call, e.target, e.error]),
      [['mount', `${dir}/no/such/dir`, 'ENOENT']],
    );
  });
});
