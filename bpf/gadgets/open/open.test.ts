import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../../test/support/cgroups.ts';
import { buildGadgetObject, runInCgroup, traceDuring } from '../../src/gadget-test-fixture.ts';
import { validateParams } from '../index.ts';
import { decodeOpen, openFlagNames, openGadget, type OpenEvent } from './open.ts';

const ctx = { bootToWallOffsetNs: 0n };

/** A record as open.bpf.c lays it out (test input built by hand, not by the kernel). */
function syntheticRecord(path: string, ret: number, flags: number, mode: number, syscall = 1): Buffer {
  const p = Buffer.concat([Buffer.from(path), Buffer.from([0])]);
  const rec = Buffer.alloc(72 + p.length);
  rec.writeBigUInt64LE(10n, 0);
  rec.writeUInt32LE(5, 16);
  rec.write('cat', 32);
  rec.writeInt32LE(ret, 48);
  rec.writeUInt32LE(flags, 52);
  rec.writeUInt32LE(mode, 56);
  rec.writeUInt16LE(p.length, 60);
  rec.writeUInt8(syscall, 62);
  rec.writeInt32LE(-100, 64);
  p.copy(rec, 72);
  return rec;
}

describe('open decoder', () => {
  test('a failed openat', () => {
    const e = decodeOpen(syntheticRecord('/etc/missing', -2, 0o2000000, 0), ctx);
    assert.equal(e.path, '/etc/missing');
    assert.equal(e.syscall, 'openat');
    assert.equal(e.errno, 2);
    assert.equal(e.error, 'ENOENT');
    assert.equal(e.fd, undefined);
    assert.equal(e.flagNames, 'O_RDONLY|O_CLOEXEC');
    assert.equal(e.dirfd, -100);
  });

  test('a successful open with O_CREAT', () => {
    const e = decodeOpen(syntheticRecord('out.txt', 3, 0o1101, 0o644, 0), ctx);
    assert.equal(e.fd, 3);
    assert.equal(e.errno, undefined);
    assert.equal(e.syscall, 'open');
    assert.equal(e.mode, 0o644);
    assert.equal(e.flagNames, 'O_WRONLY|O_CREAT|O_TRUNC');
  });

  test('unknown flag bits are kept in hex', () => {
    assert.equal(openFlagNames(2 | 0x40000000), 'O_RDWR|0x40000000');
  });

  test('config: flags, prefix length and bytes', () => {
    const buf = openGadget.encodeConfig({ failedOnly: true, pathPrefix: '/tmp/' }, true);
    assert.equal(buf.length, 260);
    assert.deepEqual([...buf.subarray(0, 9)], [1, 1, 5, 0, ...Buffer.from('/tmp/')]);
  });

  test('params: a prefix over 255 bytes is refused naming pathPrefix', () => {
    const r = validateParams('open', { pathPrefix: 'é'.repeat(200) });
    assert.equal(r.ok, false);
    assert.equal(r.errors[0]?.field, 'pathPrefix');
    assert.equal(validateParams('open', { pathPrefix: 'x'.repeat(256) }).errors[0]?.field, 'pathPrefix');
    assert.deepEqual(validateParams('open', {}), { ok: true, params: { failedOnly: false, pathPrefix: '' }, errors: [] });
  });
});

const skip = kernelTestSkipReason();

describe('open in the kernel', { skip }, () => {
  let traced: TestCgroup;
  let other: TestCgroup;
  const dir = `/tmp/tracejob-open-${process.pid}`;
  before(() => {
    buildGadgetObject('open');
    traced = createTestCgroup(uniqueCgroupPath('open-traced'));
    other = createTestCgroup(uniqueCgroupPath('open-other'));
  });
  after(async () => {
    await traced?.destroy();
    await other?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const script = (tag: string) => `mkdir -p ${dir}; cat ${dir}/missing-${tag} 2>/dev/null; echo x > ${dir}/made-${tag}; rm -f ${dir}/made-${tag}; true`;

  test('exact path and errno of a failing open, fd and flags of a create; nothing of the other cgroup', async () => {
    const { events } = await traceDuring({ gadget: 'open', cgroupIds: [traced.id] }, async () => {
      await runInCgroup(traced, '/bin/sh', ['-c', script('one')]);
      await runInCgroup(other, '/bin/sh', ['-c', script('two')]);
    });
    const opens = events as OpenEvent[];
    const missing = opens.find((e) => e.path === `${dir}/missing-one`);
    assert.ok(missing, `no open of the missing file among ${opens.length} events`);
    assert.equal(missing.ret, -2);
    assert.equal(missing.errno, 2);
    assert.equal(missing.error, 'ENOENT');
    assert.equal(missing.comm, 'cat');
    assert.equal(missing.flags & 3, 0);
    const made = opens.find((e) => e.path === `${dir}/made-one`);
    assert.ok(made);
    assert.ok(made.fd !== undefined && made.fd >= 0);
    assert.equal(made.flagNames, 'O_WRONLY|O_CREAT|O_TRUNC');
    assert.equal(made.mode, 0o666);
    assert.deepEqual(opens.filter((e) => e.cgroupId !== traced.id), []);
    assert.deepEqual(opens.filter((e) => e.path.endsWith('-two')), []);
  });

  test("'all' sees both cgroups", async () => {
    const { events } = await traceDuring({ gadget: 'open', cgroupIds: 'all' }, async () => {
      await runInCgroup(traced, '/bin/sh', ['-c', script('all1')]);
      await runInCgroup(other, '/bin/sh', ['-c', script('all2')]);
    });
    const opens = events as OpenEvent[];
    assert.ok(opens.some((e) => e.cgroupId === traced.id && e.path === `${dir}/missing-all1`));
    assert.ok(opens.some((e) => e.cgroupId === other.id && e.path === `${dir}/missing-all2`));
  });

  test('pathPrefix and failedOnly filter in the kernel', async () => {
    const { events } = await traceDuring(
      { gadget: 'open', params: { pathPrefix: `${dir}/missing-`, failedOnly: true }, cgroupIds: [traced.id] },
      async () => {
        await runInCgroup(traced, '/bin/sh', ['-c', `${script('p1')}; cat /etc/hostname >/dev/null; cat /nonexistent-tracejob 2>/dev/null; true`]);
      },
    );
    const opens = events as OpenEvent[];
    assert.deepEqual(
      opens.map((e) => [e.path, e.error]),
      [[`${dir}/missing-p1`, 'ENOENT']],
    );
  });
});
