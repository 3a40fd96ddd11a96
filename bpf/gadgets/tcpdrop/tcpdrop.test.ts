import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../../test/support/cgroups.ts';
import { buildGadgetObject, runInCgroup, syntheticRecord, traceDuring, withPodCgroup } from '../../src/gadget-test-fixture.ts';
import { validateParams } from '../index.ts';
import { dropReasonName } from '../../src/kernel-enums.ts';
import { decodeTcpdrop, tcpdropGadget, type TcpdropEvent } from './tcpdrop.ts';
import { mergeTcpdropSummaries, TcpdropTally } from './tcpdrop-summary.ts';
import { createUdpDropNetns, type DroppedSend, type UdpDropNetns } from './tcpdrop-test-workload.ts';

const ctx = { bootToWallOffsetNs: 0n };

describe('tcpdrop decoder', () => {
  test('a dropped TCP SYN of a socket in SYN_SENT', () => {
    const rec = syntheticRecord('tcpdrop', {
      location: 0xffffffff81000000,
      reason: 2,
      family: 2,
      sport: 40000,
      dport: 80,
      protocol: 6,
      tcp_flags: 0x02,
      state: 2,
      has_sock: 1,
      saddr: Buffer.from([10, 0, 0, 1]),
      daddr: Buffer.from([10, 0, 0, 2]),
    });
    const e = decodeTcpdrop(rec, ctx);
    assert.deepEqual(
      [e.reason, e.family, e.saddr, e.sport, e.dport, e.protocol, e.tcpFlags, e.state, e.hasSocket, e.location],
      [dropReasonName(2), 'inet', '10.0.0.1', 40000, 80, 'tcp', 'SYN', 'SYN_SENT', true, '0xffffffff81000000'],
    );
  });

  test("reason names come from this kernel's BTF", () => {
    assert.match(dropReasonName(2), /^[A-Z_0-9]+$/);
    assert.equal(dropReasonName(1_000_000), 'reason 1000000');
  });

  test('config and params: summary mode by default, stream on request', () => {
    assert.deepEqual([...tcpdropGadget.encodeConfig({ mode: 'summary', protocol: 'udp' }, true)], [1, 17, 0, 0]);
    assert.deepEqual([...tcpdropGadget.encodeConfig({ mode: 'stream' }, true)], [1, 0, 1, 0]);
    assert.equal(validateParams('tcpdrop', { protocol: 'sctp' }).errors[0]?.field, 'protocol');
    assert.equal(validateParams('tcpdrop', { mode: 'summary ' }).errors[0]?.field, 'mode');
    assert.deepEqual(validateParams('tcpdrop', {}), { ok: true, params: { mode: 'summary' }, errors: [] });
  });

  test('the tables count drops per reason and per (reason, flow, owner), in both modes and merged', () => {
    const flow = { gadget: 'tcpdrop', reason: 'NETFILTER_DROP', cgroupId: 5, pid: 9, comm: 'curl', protocol: 'tcp', saddr: '10.0.0.1', sport: 4000, daddr: '10.0.0.2', dport: 80, pod: 'web' };
    const stream = new TcpdropTally('stream');
    for (let i = 0; i < 3; i += 1) stream.add(flow);
    stream.add({ ...flow, reason: 'NO_SOCKET', cgroupId: 0, pid: 0, comm: '', pod: undefined });
    const rows = new TcpdropTally('summary');
    rows.add({ ...flow, packets: 3 });
    rows.add({ ...flow, reason: 'NO_SOCKET', cgroupId: 0, pid: 0, comm: '', pod: undefined, packets: 1 });
    const expected = {
      drops: 4,
      perReason: [
        { reason: 'NETFILTER_DROP', drops: 3 },
        { reason: 'NO_SOCKET', drops: 1 },
      ],
      top: [
        { reason: 'NETFILTER_DROP', pid: 9, comm: 'curl', cgroupId: 5, pod: 'web', protocol: 'tcp', saddr: '10.0.0.1', daddr: '10.0.0.2', sport: 4000, dport: 80, drops: 3 },
        { reason: 'NO_SOCKET', pid: 0, comm: '', cgroupId: 0, protocol: 'tcp', saddr: '10.0.0.1', daddr: '10.0.0.2', sport: 4000, dport: 80, drops: 1 },
      ],
    };
    assert.deepEqual(stream.result(), { mode: 'stream', ...expected });
    assert.deepEqual(rows.result(), { mode: 'summary', ...expected });
    // two nodes, the second's table cut to its top row: its other drops still count per reason
    const merged = mergeTcpdropSummaries([
      { node: 'a', tcpdrop: rows.result() },
      { node: 'b', tcpdrop: rows.result(1) },
    ]);
    assert.equal(merged.drops, 8);
    assert.deepEqual(merged.perReason, [
      { reason: 'NETFILTER_DROP', drops: 6 },
      { reason: 'NO_SOCKET', drops: 2 },
    ]);
    assert.deepEqual(merged.top.map((r) => [r.node, r.reason, r.drops]), [['a', 'NETFILTER_DROP', 3], ['b', 'NETFILTER_DROP', 3], ['a', 'NO_SOCKET', 1]]);
  });
});

const skip = kernelTestSkipReason();

describe('tcpdrop in the kernel', { skip }, () => {
  let traced: TestCgroup;
  let other: TestCgroup;
  let net: UdpDropNetns;
  before(() => {
    buildGadgetObject('tcpdrop');
    traced = createTestCgroup(uniqueCgroupPath('drop-traced'));
    other = createTestCgroup(uniqueCgroupPath('drop-other'));
    net = createUdpDropNetns('drop');
  });
  after(async () => {
    net?.destroy();
    await traced?.destroy();
    await other?.destroy();
  });

  const dropRow = (e: TcpdropEvent) => [e.cgroupId, e.pid, e.comm, e.reason, e.family, e.saddr, e.daddr, e.sport, e.dport, e.protocol, e.hasSocket];

  test('stream: netfilter drops of the traced process with reason, addresses, ports and the sender; nothing of the other cgroup', async () => {
    let sent: DroppedSend = { pid: 0, sport: 0 };
    const { events, lostEvents } = await traceDuring({ gadget: 'tcpdrop', params: { mode: 'stream' }, cgroupIds: [traced.id] }, async () => {
      sent = await net.send(traced);
      await net.send(other);
    });
    assert.equal(lostEvents, 0);
    const expected = [traced.id, sent.pid, 'python3', 'NETFILTER_DROP', 'inet', '127.0.0.1', '127.0.0.1', sent.sport, net.port, 'udp', true];
    assert.deepEqual((events as TcpdropEvent[]).map(dropRow), [expected, expected, expected]);
  });

  test('summary: the drops counted in the kernel, one row per reason, flow and sender; nothing of the other cgroup', async () => {
    let sent: DroppedSend = { pid: 0, sport: 0 };
    const { events, lostEvents } = await traceDuring({ gadget: 'tcpdrop', cgroupIds: [traced.id] }, async () => {
      sent = await net.send(traced);
      await net.send(other);
    });
    assert.equal(lostEvents, 0);
    assert.deepEqual(
      (events as TcpdropEvent[]).map((e) => [...dropRow(e), e.packets]),
      [[traced.id, sent.pid, 'python3', 'NETFILTER_DROP', 'inet', '127.0.0.1', '127.0.0.1', sent.sport, net.port, 'udp', true, 3]],
    );
    assert.match(events[0]!.location as string, /^0x[0-9a-f]+$/);
  });

  test('the protocol param keeps only that protocol (both modes)', async () => {
    for (const mode of ['summary', 'stream']) {
      const { events } = await traceDuring({ gadget: 'tcpdrop', params: { mode, protocol: 'tcp' }, cgroupIds: [traced.id] }, async () => {
        await net.send(traced);
      });
      assert.deepEqual(events, [], mode);
    }
  });

  test('pod level: with the pod cgroup filtered at its level, a socket of a container created below it later counts; without the level it does not', async () => {
    await withPodCgroup('drop-pod', async ({ pod, container, level }) => {
      let sent: DroppedSend = { pid: 0, sport: 0 };
      const podLevel = await traceDuring({ gadget: 'tcpdrop', cgroupIds: [pod.id], ancestorLevels: [level] }, async () => {
        sent = await net.send(container);
        await net.send(other);
      });
      assert.deepEqual(
        (podLevel.events as TcpdropEvent[]).map((e) => [e.cgroupId, e.pid, e.comm, e.reason, e.sport, e.dport, e.packets]),
        [[container.id, sent.pid, 'python3', 'NETFILTER_DROP', sent.sport, net.port, 3]],
      );
      const exact = await traceDuring({ gadget: 'tcpdrop', cgroupIds: [pod.id] }, async () => {
        await net.send(container);
      });
      assert.deepEqual(exact.events, []);
    });
  });

  test('a full counts table: what it could not count is lost, counted exactly', async () => {
    // one flow per source port: 200 more flows than the table's 16384 entries
    const flows = 16384 + 200;
    const script = `
import socket, sys
first, n, port = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
for sport in range(first, first + n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", sport))
    try:
        s.sendto(b"x", ("127.0.0.1", port))
    except PermissionError:
        pass
    s.close()
`;
    let run = { pid: 0, stdout: '', stderr: '', code: 0 as number | null };
    const { events, lostEvents } = await traceDuring({ gadget: 'tcpdrop', cgroupIds: [traced.id] }, async () => {
      const [cmd, args] = net.ns.wrap('python3', ['-c', script, '20000', String(flows), String(net.port)]);
      run = await runInCgroup(traced, cmd, args);
    });
    assert.equal(run.code, 0, run.stderr);
    const counted = (events as TcpdropEvent[]).reduce((n, e) => n + (e.packets ?? 0), 0);
    assert.equal(events.length, 16384, 'the table is full');
    assert.equal(counted + lostEvents, flows, `${counted} counted + ${lostEvents} lost = ${flows} drops`);
    assert.equal(lostEvents, 200);
  });
});
