import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../../test/support/cgroups.ts';
import { buildGadgetObject, syntheticRecord, traceDuring } from '../../src/gadget-test-fixture.ts';
import { validateParams } from '../index.ts';
import { blockioGadget, decodeBlockio, requestOp, type BlockioEvent } from './blockio.ts';
import { BlockioTally, latencySlot, mergeBlockioSummaries } from './blockio-summary.ts';
import { createTestLoopDevice, directIo, type DirectIoRun, type TestLoopDevice } from './blockio-test-workload.ts';

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

  test('config and params: summary mode by default, stream on request', () => {
    assert.deepEqual([...blockioGadget.encodeConfig({ mode: 'summary', minLatencyUs: 1000 }, true)], [1, 0, 0, 0, 1000 & 255, 1000 >> 8, 0, 0]);
    assert.deepEqual([...blockioGadget.encodeConfig({ mode: 'stream' }, false)], [0, 1, 0, 0, 0, 0, 0, 0]);
    assert.equal(validateParams('blockio', { minLatencyUs: 0 }).errors[0]?.field, 'minLatencyUs');
    assert.equal(validateParams('blockio', { mode: 'both' }).errors[0]?.field, 'mode');
    assert.deepEqual(validateParams('blockio', {}), { ok: true, params: { mode: 'summary' }, errors: [] });
    assert.equal(blockioGadget.aggregate?.enabled?.({ mode: 'summary' }), true);
    assert.equal(blockioGadget.aggregate?.enabled?.({ mode: 'stream' }), false);
  });

  test('latency slots are log2 of microseconds, as biolatency', () => {
    assert.deepEqual([0, 1999, 2000, 3999, 4000, 1_000_000, 1e12].map(latencySlot), [0, 0, 1, 1, 2, 9, 26]);
  });

  test('the tables are the same from stream events and from summary rows', () => {
    const base = { gadget: 'blockio', cgroupId: 7, pid: 42, comm: 'dd', disk: 'sda', device: '8:0', op: 'read', pod: 'web' };
    const stream = new BlockioTally('stream');
    for (const latencyNs of [1_000, 5_000, 5_500]) stream.add({ ...base, bytes: 4096, latencyNs });
    const rows = new BlockioTally('summary');
    rows.add({ ...base, requests: 3, bytes: 12288, errors: 0, latencyNsTotal: 11_500, latencyNsMax: 5_500, latencyUsSlots: [1, 0, 2] });
    const device = { disk: 'sda', device: '8:0', op: 'read', requests: 3, bytes: 12288, errors: 0, latencyNsTotal: 11_500, latencyNsMax: 5_500, latencyUsSlots: [1, 0, 2] };
    const process = { pid: 42, comm: 'dd', cgroupId: 7, pod: 'web', requests: 3, bytes: 12288, latencyNsTotal: 11_500 };
    assert.deepEqual(stream.result(), { mode: 'stream', requests: 3, bytes: 12288, errors: 0, perDevice: [device], topProcesses: [process] });
    assert.deepEqual(rows.result(), { mode: 'summary', requests: 3, bytes: 12288, errors: 0, perDevice: [device], topProcesses: [process] });
    // two nodes: each keeps its disks (sda of n1 is not sda of n2) and its processes
    const merged = mergeBlockioSummaries([
      { node: 'n1', blockio: rows.result() },
      { node: 'n2', blockio: stream.result() },
    ]);
    assert.deepEqual([merged.requests, merged.bytes], [6, 24576]);
    assert.deepEqual(merged.perDevice.map((d) => [d.disk, d.requests, d.latencyUsSlots]), [['n1/sda', 3, [1, 0, 2]], ['n2/sda', 3, [1, 0, 2]]]);
    assert.deepEqual(merged.topProcesses.map((p) => [p.node, p.pid, p.bytes]), [['n1', 42, 12288], ['n2', 42, 12288]]);
    assert.deepEqual(mergeBlockioSummaries([{ node: 'n1', blockio: rows.result() }]).perDevice.map((d) => d.disk), ['sda']);
  });
});

const skip = kernelTestSkipReason();

describe('blockio in the kernel', { skip }, () => {
  let traced: TestCgroup;
  let other: TestCgroup;
  let loop: TestLoopDevice | undefined;
  before(() => {
    buildGadgetObject('blockio');
    traced = createTestCgroup(uniqueCgroupPath('blockio-traced'));
    other = createTestCgroup(uniqueCgroupPath('blockio-other'));
    loop = createTestLoopDevice();
  });
  after(async () => {
    loop?.destroy();
    await traced?.destroy();
    await other?.destroy();
  });

  test('stream: O_DIRECT reads and writes of the traced process with disk, op, sector and bytes; nothing of the other cgroup', async () => {
    const disk = loop!;
    let run: DirectIoRun = { readerPid: 0, writerPid: 0 };
    const { events, lostEvents } = await traceDuring({ gadget: 'blockio', params: { mode: 'stream' }, cgroupIds: [traced.id] }, async () => {
      run = await directIo(disk, traced, other);
    });
    assert.equal(lostEvents, 0);
    // only the traced cgroup's I/O; its processes also page in their programs from the system disk
    assert.ok(events.every((e) => e.cgroupId === traced.id));
    const onLoop = (events as BlockioEvent[]).filter((e) => e.disk === disk.disk);
    const seen = onLoop.map((e) => [e.cgroupId, e.pid, e.comm, e.disk, e.device, e.op, e.sector, e.bytes, e.error]);
    const io = (pid: number, op: string, sector: number, bytes: number) => [traced.id, pid, 'dd', disk.disk, disk.device, op, sector, bytes, undefined];
    assert.deepEqual(seen, [
      io(run.readerPid, 'read', 0, 4096),
      io(run.readerPid, 'read', 8, 4096),
      io(run.readerPid, 'read', 16, 4096),
      io(run.writerPid, 'write', 160, 8192),
      io(run.writerPid, 'write', 176, 8192),
    ]);
    assert.ok(onLoop.every((e) => e.latencyNs > 0));
  });

  test('summary: counted in the kernel per process, disk and op, with the latency histogram; nothing of the other cgroup', async () => {
    const disk = loop!;
    let run: DirectIoRun = { readerPid: 0, writerPid: 0 };
    const { events, lostEvents } = await traceDuring({ gadget: 'blockio', cgroupIds: [traced.id] }, async () => {
      run = await directIo(disk, traced, other);
    });
    assert.equal(lostEvents, 0);
    assert.ok(events.every((e) => e.cgroupId === traced.id));
    const onLoop = (events as BlockioEvent[]).filter((e) => e.disk === disk.disk).sort((a, b) => a.pid - b.pid);
    assert.deepEqual(
      onLoop.map((e) => [e.cgroupId, e.pid, e.comm, e.disk, e.device, e.op, e.requests, e.bytes, e.errors]),
      [
        [traced.id, run.readerPid, 'dd', disk.disk, disk.device, 'read', 3, 12288, 0],
        [traced.id, run.writerPid, 'dd', disk.disk, disk.device, 'write', 2, 16384, 0],
      ],
    );
    for (const e of onLoop) {
      const inSlots = (e.latencyUsSlots ?? []).reduce((a, b) => a + b, 0);
      assert.equal(inSlots, e.requests, 'every request is in one latency slot');
      assert.ok(e.latencyNsMax! > 0 && e.latencyNsTotal! >= e.latencyNsMax!);
      assert.equal(e.latencyUsSlots!.length - 1, latencySlot(e.latencyNsMax!), 'the highest slot is the longest request');
    }
    const tally = new BlockioTally('summary');
    for (const e of events) tally.add(e);
    const tables = tally.result();
    const loopRows = tables.perDevice.filter((d) => d.disk === disk.disk).map((d) => [d.op, d.requests, d.bytes]);
    assert.deepEqual(loopRows, [
      ['read', 3, 12288],
      ['write', 2, 16384],
    ]);
    assert.ok(tables.topProcesses.some((p) => p.pid === run.writerPid && p.bytes >= 16384));
  });
});
