import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../../test/support/cgroups.ts';
import { createTestNetns, type TestNetns } from '../../../test/support/netns.ts';
import { buildGadgetObject, runInCgroup, syntheticRecord, traceDuring } from '../../src/gadget-test-fixture.ts';
import { validateParams } from '../index.ts';
import { dropReasonName } from '../../src/kernel-enums.ts';
import { decodeTcpdrop, tcpdropGadget, type TcpdropEvent } from './tcpdrop.ts';

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

  test('config and params', () => {
    assert.deepEqual([...tcpdropGadget.encodeConfig({ protocol: 'udp' }, true)], [1, 17, 0, 0]);
    assert.equal(validateParams('tcpdrop', { protocol: 'sctp' }).errors[0]?.field, 'protocol');
  });
});

/** Sends three UDP datagrams that the namespace's OUTPUT chain drops; prints the source port. */
const SENDER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
for _ in range(3):
    try:
        s.sendto(b"x" * 32, ("127.0.0.1", int(sys.argv[1])))
    except PermissionError:
        pass
print("sport", s.getsockname()[1], flush=True)
`;

const skip = kernelTestSkipReason();

describe('tcpdrop in the kernel', { skip }, () => {
  let traced: TestCgroup;
  let other: TestCgroup;
  let ns: TestNetns;
  const port = 9999;
  before(() => {
    buildGadgetObject('tcpdrop');
    traced = createTestCgroup(uniqueCgroupPath('drop-traced'));
    other = createTestCgroup(uniqueCgroupPath('drop-other'));
    ns = createTestNetns('drop');
    ns.exec('iptables', ['-w', '-A', 'OUTPUT', '-p', 'udp', '--dport', String(port), '-j', 'DROP']);
  });
  after(async () => {
    ns?.destroy();
    await traced?.destroy();
    await other?.destroy();
  });

  test('netfilter drops of the traced process with reason, addresses, ports and the sender; nothing of the other cgroup', async () => {
    let run = { pid: 0, stdout: '', stderr: '', code: 0 as number | null };
    const { events, lostEvents } = await traceDuring({ gadget: 'tcpdrop', cgroupIds: [traced.id] }, async () => {
      const [cmd, args] = ns.wrap('python3', ['-c', SENDER, String(port)]);
      run = await runInCgroup(traced, cmd, args);
      const otherRun = await runInCgroup(other, cmd, args);
      assert.equal(otherRun.code, 0, otherRun.stderr);
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(lostEvents, 0);
    const sport = Number(/sport (\d+)/.exec(run.stdout)?.[1]);
    const expected = [traced.id, run.pid, 'python3', 'NETFILTER_DROP', 'inet', '127.0.0.1', '127.0.0.1', sport, port, 'udp', true];
    assert.deepEqual(
      (events as TcpdropEvent[]).map((e) => [e.cgroupId, e.pid, e.comm, e.reason, e.family, e.saddr, e.daddr, e.sport, e.dport, e.protocol, e.hasSocket]),
      [expected, expected, expected],
    );
  });

  test('the protocol param keeps only that protocol', async () => {
    const { events } = await traceDuring({ gadget: 'tcpdrop', params: { protocol: 'tcp' }, cgroupIds: [traced.id] }, async () => {
      const [cmd, args] = ns.wrap('python3', ['-c', SENDER, String(port)]);
      await runInCgroup(traced, cmd, args);
    });
    assert.deepEqual(events, []);
  });
});
