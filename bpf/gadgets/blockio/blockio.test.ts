import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../../test/support/cgroups.ts';
import { buildGadgetObject, runInCgroup, syntheticRecord, traceDuring } from '../../src/gadget-test-fixture.ts';
import { validateParams } from '../index.ts';
import { blockioGadget, decodeBlockio, requestOp, type BlockioEvent } from './blockio.ts';

const ctx = { bootToWallOffsetNs: 0n };

describe('blockio decoder', () => {
  test('a completed read with its disk, device, sector, bytes and latency', () => {
    const rec = syntheticRecord('blockio', { 'hdr.comm': 'dd', latency_ns: 12345, sector: 8, bytes: 4096, cmd_flags: 0, major: 7, minor: 3, disk: 'loop3' });
    const e = decodeBlockio(rec, ctx);
    assert.deepEqual([e.comm, e.disk, e.device, e.op, e.sector, e.bytes, e.latencyNs, e.error], ['dd', 'loop3', '7:3', 'read', 8, 4096, 12345, undefined]);
    assert.equal(decodeBlockio(syntheticRecord('blockio', { error: 10 }), ctx).error, 'IOERR');
  });

  test("operation names come from this kernel's BTF", () => {
    assert.deepEqual([requestOp(0), requestOp(1), requestOp(2)], ['read', 'write', 'flush']);
  });

  test('config and params', () => {
    assert.deepEqual([...blockioGadget.encodeConfig({ minLatencyUs: 1000 }, true)], [1, 0, 0, 0, 1000 & 255, 1000 >> 8, 0, 0]);
    assert.equal(validateParams('blockio', { minLatencyUs: 0 }).errors[0]?.field, 'minLatencyUs');
  });
});

const skip = kernelTestSkipReason();

describe('blockio in the kernel', { skip }, () => {
  let traced: TestCgroup;
  let other: TestCgroup;
  let dir: string;
  let loop = '';
  before(() => {
    buildGadgetObject('blockio');
    traced = createTestCgroup(uniqueCgroupPath('blockio-traced'));
    other = createTestCgroup(uniqueCgroupPath('blockio-other'));
    dir = mkdtempSync(join(tmpdir(), 'tj-blockio-'));
    const backing = join(dir, 'disk.img');
    writeFileSync(backing, '');
    truncateSync(backing, 4 << 20);
    // dd opens the loop device itself with O_DIRECT; the backing file may be on tmpfs, which before
    // Linux 6.6 does not take O_DIRECT, so the loop device's own I/O stays buffered
    loop = execFileSync('losetup', ['--find', '--show', backing], { encoding: 'utf8' }).trim();
  });
  after(async () => {
    if (loop) execFileSync('losetup', ['--detach', loop]);
    await traced?.destroy();
    await other?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('O_DIRECT reads and writes of the traced process with disk, op, sector and bytes; nothing of the other cgroup', async () => {
    let reads = { pid: 0, code: 0 as number | null, stderr: '', stdout: '' };
    let writes = { pid: 0, code: 0 as number | null, stderr: '', stdout: '' };
    const { events, lostEvents } = await traceDuring({ gadget: 'blockio', cgroupIds: [traced.id] }, async () => {
      reads = await runInCgroup(traced, 'dd', [`if=${loop}`, 'of=/dev/null', 'bs=4096', 'count=3', 'iflag=direct', 'status=none']);
      writes = await runInCgroup(traced, 'dd', ['if=/dev/zero', `of=${loop}`, 'bs=8192', 'count=2', 'seek=10', 'oflag=direct', 'status=none']);
      const otherRun = await runInCgroup(other, 'dd', [`if=${loop}`, 'of=/dev/null', 'bs=4096', 'count=5', 'iflag=direct', 'status=none']);
      assert.equal(otherRun.code, 0, otherRun.stderr);
    });
    assert.equal(reads.code, 0, reads.stderr);
    assert.equal(writes.code, 0, writes.stderr);
    assert.equal(lostEvents, 0);
    const [major, minor] = [Math.floor(statSync(loop).rdev / 256), statSync(loop).rdev % 256];
    // only the traced cgroup's I/O; its processes also page in their programs from the system disk
    assert.ok(events.every((e) => e.cgroupId === traced.id));
    const onLoop = (events as BlockioEvent[]).filter((e) => e.disk === basename(loop));
    const seen = onLoop.map((e) => [e.cgroupId, e.pid, e.comm, e.disk, e.device, e.op, e.sector, e.bytes, e.error]);
    const io = (pid: number, op: string, sector: number, bytes: number) => [traced.id, pid, 'dd', basename(loop), `${major}:${minor}`, op, sector, bytes, undefined];
    assert.deepEqual(seen, [
      io(reads.pid, 'read', 0, 4096),
      io(reads.pid, 'read', 8, 4096),
      io(reads.pid, 'read', 16, 4096),
      io(writes.pid, 'write', 160, 8192),
      io(writes.pid, 'write', 176, 8192),
    ]);
    assert.ok(onLoop.every((e) => e.latencyNs > 0));
  });
});
