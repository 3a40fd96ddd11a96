import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../../test/support/cgroups.ts';
import { createTestNetns, type TestNetns } from '../../../test/support/netns.ts';
import { buildGadgetObject, runInCgroup, syntheticRecord, traceDuring, withPodCgroup } from '../../src/gadget-test-fixture.ts';
import { validateParams } from '../index.ts';
import { decodeTcpretrans, tcpretransGadget, type TcpretransEvent } from './tcpretrans.ts';

const ctx = { bootToWallOffsetNs: 0n };

describe('tcpretrans decoder', () => {
  test('an IPv4 data retransmit of an established connection', () => {
    const rec = syntheticRecord('tcpretrans', {
      'hdr.cgroup_id': 77,
      family: 2,
      sport: 40000,
      dport: 443,
      state: 1,
      type: 0,
      saddr: Buffer.from([10, 0, 0, 1]),
      daddr: Buffer.from([10, 0, 0, 2]),
    });
    const e = decodeTcpretrans(rec, ctx);
    assert.deepEqual(
      [e.cgroupId, e.pid, e.comm, e.family, e.saddr, e.daddr, e.sport, e.dport, e.state, e.type],
      [77, 0, '', 'inet', '10.0.0.1', '10.0.0.2', 40000, 443, 'ESTABLISHED', 'data'],
    );
  });

  test('config and params', () => {
    assert.deepEqual([...tcpretransGadget.encodeConfig({ port: 8080 }, true)], [1, 0, 8080 & 255, 8080 >> 8]);
    assert.equal(validateParams('tcpretrans', { port: 70000 }).errors[0]?.field, 'port');
  });
});

/**
 * A client that connects, has the namespace drop what it sends from then on on arrival (so each send itself succeeds), writes, and waits until
 * the kernel has retransmitted at least twice (TCP_INFO tcpi_total_retrans); prints its port.
 */
const CLIENT = `
import socket, struct, subprocess, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
subprocess.run(["iptables", "-w", "-A", "INPUT", "-p", "tcp", "--sport", str(s.getsockname()[1]), "-j", "DROP"], check=True)
s.send(b"x" * 100)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    if struct.unpack_from("I", info, 100)[0] >= 2:
        break
    time.sleep(0.05)
print("sport", s.getsockname()[1], "retrans", struct.unpack_from("I", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104), 100)[0], flush=True)
`;

const skip = kernelTestSkipReason();

describe('tcpretrans in the kernel', { skip }, () => {
  let traced: TestCgroup;
  let other: TestCgroup;
  let ns: TestNetns;
  let server: ChildProcess;
  let port = 0;
  before(async () => {
    buildGadgetObject('tcpretrans');
    traced = createTestCgroup(uniqueCgroupPath('retrans-traced'));
    other = createTestCgroup(uniqueCgroupPath('retrans-other'));
    ns = createTestNetns('retrans');
    // a listener in the namespace that accepts and keeps its connections open
    const [cmd, args] = ns.wrap('python3', [
      '-c',
      'import socket\ns=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True)\nconns=[]\nwhile True: conns.append(s.accept())',
    ]);
    server = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(server.stdout!, 'data')) as [Buffer];
    port = Number(line.toString().trim());
  });
  after(async () => {
    server?.kill();
    ns?.destroy();
    await traced?.destroy();
    await other?.destroy();
  });

  test('retransmits of the traced cgroup with exact addresses, ports, state and type; nothing of the other cgroup', async () => {
    let run = { stdout: '', code: 0 as number | null };
    let otherRun = { stdout: '', code: 0 as number | null };
    const { events, lostEvents } = await traceDuring({ gadget: 'tcpretrans', cgroupIds: [traced.id] }, async () => {
      const [cmd, args] = ns.wrap('python3', ['-c', CLIENT, String(port)]);
      [run, otherRun] = await Promise.all([runInCgroup(traced, cmd, args), runInCgroup(other, cmd, args)]);
    });
    assert.equal(run.code, 0, run.stdout);
    assert.equal(otherRun.code, 0, otherRun.stdout);
    const [, sport, retrans] = /sport (\d+) retrans (\d+)/.exec(run.stdout)?.map(Number) ?? [];
    const [, otherSport] = /sport (\d+)/.exec(otherRun.stdout)?.map(Number) ?? [];
    assert.ok((retrans ?? 0) >= 2, run.stdout);
    const retransmits = events as TcpretransEvent[];
    assert.equal(lostEvents, 0);
    // everything seen is the traced client's connection: data retransmits while it is established,
    // and — where the client exits before the trace stops (a slow machine) — after its close
    for (const e of retransmits) {
      assert.deepEqual([e.cgroupId, e.family, e.saddr, e.daddr, e.sport, e.dport, e.type], [traced.id, 'inet', '127.0.0.1', '127.0.0.1', sport, port, 'data']);
      assert.ok(['ESTABLISHED', 'FIN_WAIT1'].includes(e.state), e.state);
    }
    const established = retransmits.filter((e) => e.state === 'ESTABLISHED').length;
    assert.ok(established >= (retrans ?? 2), `${established} events while established for ${retrans} retransmits`);
    assert.ok(!retransmits.some((e) => e.sport === otherSport));
  });
  test('pod level: with the pod cgroup filtered at its level, the retransmits of a container created below it count; without the level they do not', async () => {
    await withPodCgroup('retrans-pod', async ({ pod, container, level }) => {
      const [cmd, args] = ns.wrap('python3', ['-c', CLIENT, String(port)]);
      let run = { stdout: '', code: 0 as number | null };
      const podLevel = await traceDuring({ gadget: 'tcpretrans', cgroupIds: [pod.id], ancestorLevels: [level] }, async () => {
        run = await runInCgroup(container, cmd, args);
      });
      assert.equal(run.code, 0, run.stdout);
      const [, sport] = /sport (\d+)/.exec(run.stdout)?.map(Number) ?? [];
      const retransmits = podLevel.events as TcpretransEvent[];
      assert.ok(retransmits.length >= 2, `${retransmits.length} retransmits`);
      for (const e of retransmits) assert.deepEqual([e.cgroupId, e.sport, e.dport, e.type], [container.id, sport, port, 'data']);
      const exact = await traceDuring({ gadget: 'tcpretrans', cgroupIds: [pod.id] }, () => runInCgroup(container, cmd, args).then(() => undefined));
      assert.deepEqual(exact.events, []);
    });
  });
});
