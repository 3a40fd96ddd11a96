import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../../test/support/cgroups.ts';
import { buildGadgetObject, runInCgroup, traceDuring } from '../../src/gadget-test-fixture.ts';
import { validateParams } from '../index.ts';
import { decodeExec, execGadget, type ExecEvent } from './exec.ts';

const ctx = { bootToWallOffsetNs: 1_700_000_000_000_000_000n };

/** A record as exec.bpf.c lays it out (test input built by hand, not by the kernel). */
function syntheticRecord(o: { filename: string; argv: string[]; retval: number; flags?: number }): Buffer {
  const parts = [o.filename, ...o.argv].map((s) => Buffer.concat([Buffer.from(s), Buffer.from([0])]));
  const body = Buffer.concat(parts);
  const rec = Buffer.alloc(64 + body.length);
  rec.writeBigUInt64LE(5_000n, 0);
  rec.writeBigUInt64LE(77n, 8);
  rec.writeUInt32LE(100, 16);
  rec.writeUInt32LE(101, 20);
  rec.writeUInt32LE(1, 24);
  rec.writeUInt32LE(1000, 28);
  rec.write('bash', 32);
  rec.writeInt32LE(o.retval, 48);
  rec.writeUInt32LE(body.length, 52);
  rec.writeUInt16LE(o.argv.length, 56);
  rec.writeUInt8(o.flags ?? 0, 58);
  body.copy(rec, 64);
  return rec;
}

describe('exec decoder', () => {
  test('decodes header, filename, argv and a failure', () => {
    const e = decodeExec(syntheticRecord({ filename: '/bin/ls', argv: ['ls', '-l', ''], retval: -2 }), ctx);
    assert.deepEqual(
      { ...e },
      {
        gadget: 'exec',
        timestamp: '1700000000000005000',
        pid: 100,
        tid: 101,
        ppid: 1,
        uid: 1000,
        comm: 'bash',
        cgroupId: 77,
        filename: '/bin/ls',
        argv: ['ls', '-l', ''],
        argsTruncated: false,
        filenameTruncated: false,
        retval: -2,
        error: 'ENOENT',
        execveat: false,
      },
    );
  });

  test('flags: truncated args and execveat', () => {
    const e = decodeExec(syntheticRecord({ filename: 'x', argv: ['a'], retval: 0, flags: 4 | 8 }), ctx);
    assert.equal(e.argsTruncated, true);
    assert.equal(e.execveat, true);
    assert.equal(e.error, undefined);
  });

  test('a record shorter than the fixed part is an error naming the gadget', () => {
    assert.throws(() => decodeExec(Buffer.alloc(40), ctx), /exec record of 40 bytes/);
  });

  test('config: filter_by_cgroup then failed_only', () => {
    assert.deepEqual([...execGadget.encodeConfig({ failedOnly: true }, true)], [1, 1]);
    assert.deepEqual([...execGadget.encodeConfig({ failedOnly: false }, false)], [0, 0]);
  });

  test('params: defaults and a wrong type named by field', () => {
    assert.deepEqual(validateParams('exec', {}), { ok: true, params: { failedOnly: false }, errors: [] });
    const bad = validateParams('exec', { failedOnly: 'yes' });
    assert.equal(bad.ok, false);
    assert.equal(bad.errors[0]?.field, 'failedOnly');
  });
});

const skip = kernelTestSkipReason();

describe('exec in the kernel', { skip }, () => {
  let traced: TestCgroup;
  let other: TestCgroup;
  before(() => {
    buildGadgetObject('exec');
    traced = createTestCgroup(uniqueCgroupPath('exec-traced'));
    other = createTestCgroup(uniqueCgroupPath('exec-other'));
  });
  after(async () => {
    await traced?.destroy();
    await other?.destroy();
  });

  const script = (tag: string) => `/bin/echo ${tag} "two words"; /nonexistent/tracejob-${tag} x; true`;

  test('sees the traced cgroup with exact filename, argv and result, and nothing of the other', async () => {
    const { events } = await traceDuring({ gadget: 'exec', cgroupIds: [traced.id] }, async () => {
      await runInCgroup(traced, '/bin/sh', ['-c', script('exec-one')]);
      await runInCgroup(other, '/bin/sh', ['-c', script('exec-two')]);
    });
    const execs = events as ExecEvent[];
    const echo = execs.find((e) => e.filename === '/bin/echo');
    assert.ok(echo, `no /bin/echo exec among ${JSON.stringify(execs.map((e) => e.filename))}`);
    assert.deepEqual(echo.argv, ['/bin/echo', 'exec-one', 'two words']);
    assert.equal(echo.retval, 0);
    assert.equal(echo.comm, 'echo');
    assert.equal(echo.cgroupId, traced.id);
    assert.equal(echo.argsTruncated, false);
    const failed = execs.find((e) => e.filename === '/nonexistent/tracejob-exec-one');
    assert.ok(failed);
    assert.deepEqual(failed.argv, ['/nonexistent/tracejob-exec-one', 'x']);
    assert.equal(failed.retval, -2);
    assert.equal(failed.error, 'ENOENT');
    assert.match(echo.timestamp, /^\d{19}$/, 'timestamp is exact ns as a decimal string');
    assert.ok(Math.abs(Number(BigInt(echo.timestamp) / 1_000_000n) - Date.now()) < 60e3, 'timestamp is wall-clock ns');
    assert.equal(execs.filter((e) => e.cgroupId !== traced.id).length, 0);
    assert.equal(execs.filter((e) => e.argv.includes('exec-two')).length, 0);
  });

  test("'all' sees both cgroups", async () => {
    const { events } = await traceDuring({ gadget: 'exec', cgroupIds: 'all' }, async () => {
      await runInCgroup(traced, '/bin/sh', ['-c', script('all-one')]);
      await runInCgroup(other, '/bin/sh', ['-c', script('all-two')]);
    });
    const execs = events as ExecEvent[];
    assert.ok(execs.some((e) => e.cgroupId === traced.id && e.argv[1] === 'all-one'));
    assert.ok(execs.some((e) => e.cgroupId === other.id && e.argv[1] === 'all-two'));
  });

  test('flags truncation: 25 arguments and a 300-byte argument', async () => {
    const many = Array.from({ length: 25 }, (_, i) => `a${i}`);
    const long = 'L'.repeat(300);
    const { events } = await traceDuring({ gadget: 'exec', cgroupIds: [traced.id] }, async () => {
      await runInCgroup(traced, '/bin/true', many);
      await runInCgroup(traced, '/bin/true', [long, 'after']);
    });
    const execs = (events as ExecEvent[]).filter((e) => e.filename === '/bin/true');
    assert.equal(execs.length, 2);
    const [first, second] = execs as [ExecEvent, ExecEvent];
    assert.deepEqual(first.argv, ['/bin/true', ...many.slice(0, 19)]);
    assert.equal(first.argsTruncated, true);
    assert.deepEqual(second.argv, ['/bin/true', 'L'.repeat(127), 'after']);
    assert.equal(second.argsTruncated, true);
  });

  test('failedOnly keeps only failed execs', async () => {
    const { events } = await traceDuring({ gadget: 'exec', params: { failedOnly: true }, cgroupIds: [traced.id] }, async () => {
      await runInCgroup(traced, '/bin/sh', ['-c', script('failed-only')]);
    });
    const execs = events as ExecEvent[];
    assert.ok(execs.some((e) => e.filename === '/nonexistent/tracejob-failed-only'));
    assert.deepEqual(execs.filter((e) => e.retval >= 0), []);
  });
});
