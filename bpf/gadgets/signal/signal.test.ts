import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../../test/support/cgroups.ts';
import { signalName } from '../../src/record-fields.ts';
import { buildGadgetObject, runInCgroup, traceDuring } from '../../src/gadget-test-fixture.ts';
import { validateParams } from '../index.ts';
import { decodeSignal, signalGadget, type SignalEvent } from './signal.ts';

const ctx = { bootToWallOffsetNs: 0n };

/** A record as signal.bpf.c lays it out (test input built by hand, not by the kernel). */
function syntheticRecord(sig: number, result: number): Buffer {
  const rec = Buffer.alloc(88);
  rec.writeUInt32LE(500, 16);
  rec.write('kill', 32);
  rec.writeInt32LE(sig, 48);
  rec.writeInt32LE(0, 56);
  rec.writeInt32LE(600, 60);
  rec.writeInt32LE(1, 64);
  rec.writeInt32LE(result, 68);
  rec.write('sleep', 72);
  return rec;
}

describe('signal decoder', () => {
  test('sender, target, signal and result', () => {
    const e = decodeSignal(syntheticRecord(9, 0), ctx);
    assert.deepEqual(
      [e.pid, e.comm, e.signal, e.signalName, e.targetPid, e.targetComm, e.group, e.code, e.result],
      [500, 'kill', 9, 'SIGKILL', 600, 'sleep', true, 0, 'delivered'],
    );
    assert.equal(decodeSignal(syntheticRecord(10, 2), ctx).result, 'already pending');
  });

  test('signal names, real-time ones as glibc numbers them', () => {
    assert.equal(signalName(15), 'SIGTERM');
    assert.equal(signalName(34), 'SIGRTMIN');
    assert.equal(signalName(36), 'SIGRTMIN+2');
    assert.equal(signalName(32), 'SIG32');
  });

  test('config and params', () => {
    assert.deepEqual([...signalGadget.encodeConfig({ signal: 15, failedOnly: true }, true)], [1, 1, 0, 0, 15, 0, 0, 0]);
    assert.equal(validateParams('signal', { signal: 65 }).errors[0]?.field, 'signal');
    assert.equal(validateParams('signal', { failedOnly: 1 }).errors[0]?.field, 'failedOnly');
  });
});

const skip = kernelTestSkipReason();

describe('signal in the kernel', { skip }, () => {
  let traced: TestCgroup;
  let other: TestCgroup;
  before(() => {
    buildGadgetObject('signal');
    traced = createTestCgroup(uniqueCgroupPath('signal-traced'));
    other = createTestCgroup(uniqueCgroupPath('signal-other'));
  });
  after(async () => {
    await traced?.destroy();
    await other?.destroy();
  });

  // the shell (sender) starts a sleep, waits for its exec, prints its pid, and kills it with SIGUSR1 (10)
  const script = 'sleep 30 & p=$!; until [ "$(cat /proc/$p/comm)" = sleep ]; do :; done; echo $p; kill -USR1 $p; wait $p; true';

  test('signal number, sender and target pid in the traced cgroup; nothing of the other', async () => {
    let one = { pid: 0, stdout: '' };
    let two = { pid: 0, stdout: '' };
    const { events } = await traceDuring({ gadget: 'signal', cgroupIds: [traced.id] }, async () => {
      one = await runInCgroup(traced, '/bin/sh', ['-c', script]);
      two = await runInCgroup(other, '/bin/sh', ['-c', script]);
    });
    const target = Number(one.stdout.trim());
    const otherTarget = Number(two.stdout.trim());
    const signals = events as SignalEvent[];
    const usr1 = signals.filter((e) => e.signal === 10);
    assert.deepEqual(
      usr1.map((e) => [e.pid, e.comm, e.cgroupId, e.signalName, e.targetPid, e.targetComm, e.result, e.code]),
      [[one.pid, 'sh', traced.id, 'SIGUSR1', target, 'sleep', 'delivered', 0]],
    );
    // the dying sleep sends SIGCHLD to the shell, from the traced cgroup too
    assert.ok(signals.some((e) => e.signal === 17 && e.pid === target && e.targetPid === one.pid));
    assert.deepEqual(signals.filter((e) => e.cgroupId !== traced.id || e.targetPid === otherTarget || e.pid === two.pid), []);
  });

  test("'all' sees both cgroups; the signal param keeps one signal", async () => {
    let one = { pid: 0, stdout: '' };
    let two = { pid: 0, stdout: '' };
    const { events } = await traceDuring({ gadget: 'signal', params: { signal: 10 }, cgroupIds: 'all' }, async () => {
      one = await runInCgroup(traced, '/bin/sh', ['-c', script]);
      two = await runInCgroup(other, '/bin/sh', ['-c', script]);
    });
    const signals = events as SignalEvent[];
    assert.ok(signals.some((e) => e.cgroupId === traced.id && e.targetPid === Number(one.stdout.trim())));
    assert.ok(signals.some((e) => e.cgroupId === other.id && e.targetPid === Number(two.stdout.trim())));
    assert.deepEqual(signals.filter((e) => e.signal !== 10), []);
  });
});
