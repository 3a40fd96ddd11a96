import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../../test/support/cgroups.ts';
import { createTestNetns, type TestNetns } from '../../../test/support/netns.ts';
import { buildGadgetObject, runInCgroup, syntheticRecord, traceDuring, withPodCgroup } from '../../src/gadget-test-fixture.ts';
import { parseDnsMessage } from './dns-message.ts';
import { decodeDns, type DnsEvent } from './dns.ts';

const ctx = { bootToWallOffsetNs: 0n };

/** A DNS answer for web.test A with two addresses, in wire format with a compression pointer. */
const wire = Buffer.from(
  (
    '1234 8180 0001 0002 0000 0000 03776562 0474657374 00 0001 0001' +
    ' c00c 0001 0001 0000003c 0004 0a010203' +
    ' c00c 0001 0001 0000003c 0004 0a010204'
  ).replace(/ /g, ''),
  'hex',
);

describe('dns decoder', () => {
  test('parses name, type, rcode and the answers (compressed names)', () => {
    assert.deepEqual(parseDnsMessage(wire), { id: 0x1234, response: true, rcode: 'NOERROR', name: 'web.test', qtype: 'A', answers: ['10.1.2.3', '10.1.2.4'] });
    // cut short: what could be read
    assert.deepEqual(parseDnsMessage(wire.subarray(0, 30)).answers, []);
  });

  test('an answer record with its latency and the query side', () => {
    const rec = syntheticRecord('dns', { latency_ns: 5000, family: 2, sport: 53, dport: 40000, msg_len: wire.length, is_answer: 1, msg: wire });
    const e = decodeDns(rec, ctx);
    assert.deepEqual([e.kind, e.id, e.name, e.qtype, e.rcode, e.addresses, e.latencyNs, e.sport], ['answer', 0x1234, 'web.test', 'A', 'NOERROR', ['10.1.2.3', '10.1.2.4'], 5000, 53]);
    const q = decodeDns(syntheticRecord('dns', { family: 2, sport: 40000, dport: 53, msg_len: 12, msg: wire.subarray(0, 12) }), ctx);
    assert.deepEqual([q.kind, q.rcode, q.addresses, q.latencyNs], ['query', undefined, undefined, undefined]);
  });
});

/** A DNS server of the test's own: web.tracejob.test A → 10.1.2.3, 10.1.2.4; every other name NXDOMAIN. */
const SERVER = `
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
while True:
    q, peer = s.recvfrom(512)
    end = q.index(b"\\0", 12) + 5
    name = []
    i = 12
    while q[i]:
        name.append(q[i + 1:i + 1 + q[i]].decode()); i += 1 + q[i]
    known = ".".join(name) == "web.tracejob.test"
    flags = 0x8180 if known else 0x8183
    answers = b"".join(b"\\xc0\\x0c\\x00\\x01\\x00\\x01\\x00\\x00\\x00\\x3c\\x00\\x04" + bytes(a) for a in ([10, 1, 2, 3], [10, 1, 2, 4])) if known else b""
    s.sendto(q[:2] + struct.pack(">HHHHH", flags, 1, 2 if known else 0, 0, 0) + q[12:end] + answers, peer)
`;

/** Resolves two names against 127.0.0.1:53 with hand-built queries; prints the ids and the client port. */
const CLIENT = `
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect(("127.0.0.1", 53))
for qid, name in ((0x1111, "web.tracejob.test"), (0x2222, "nope.tracejob.test")):
    s.send(struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\\0\\x00\\x01\\x00\\x01")
    s.recv(512)
print("port", s.getsockname()[1], flush=True)
`;

const skip = kernelTestSkipReason();

describe('dns in the kernel', { skip }, () => {
  let traced: TestCgroup;
  let other: TestCgroup;
  let ns: TestNetns;
  let server: ChildProcess;
  before(async () => {
    buildGadgetObject('dns');
    traced = createTestCgroup(uniqueCgroupPath('dns-traced'));
    other = createTestCgroup(uniqueCgroupPath('dns-other'));
    ns = createTestNetns('dns');
    const [cmd, args] = ns.wrap('python3', ['-c', SERVER]);
    server = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(server.stdout!, 'data');
  });
  after(async () => {
    server?.kill();
    ns?.destroy();
    await traced?.destroy();
    await other?.destroy();
  });

  test('queries and answers of the traced process: name, type, rcode, addresses, latency; nothing of the other cgroup', async () => {
    let run = { pid: 0, stdout: '', stderr: '', code: 0 as number | null };
    const { events, lostEvents } = await traceDuring({ gadget: 'dns', cgroupIds: [traced.id] }, async () => {
      const [cmd, args] = ns.wrap('python3', ['-c', CLIENT]);
      run = await runInCgroup(traced, cmd, args);
      const otherRun = await runInCgroup(other, cmd, args);
      assert.equal(otherRun.code, 0, otherRun.stderr);
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(lostEvents, 0);
    const port = Number(/port (\d+)/.exec(run.stdout)?.[1]);
    const dns = events as DnsEvent[];
    assert.deepEqual(
      dns.map((e) => [e.cgroupId, e.pid, e.comm, e.kind, e.id, e.name, e.qtype, e.rcode, e.addresses, e.daddr, e.kind === 'query' ? e.sport : e.dport]),
      [
        [traced.id, run.pid, 'python3', 'query', 0x1111, 'web.tracejob.test', 'A', undefined, undefined, '127.0.0.1', port],
        [traced.id, run.pid, 'python3', 'answer', 0x1111, 'web.tracejob.test', 'A', 'NOERROR', ['10.1.2.3', '10.1.2.4'], '127.0.0.1', port],
        [traced.id, run.pid, 'python3', 'query', 0x2222, 'nope.tracejob.test', 'A', undefined, undefined, '127.0.0.1', port],
        [traced.id, run.pid, 'python3', 'answer', 0x2222, 'nope.tracejob.test', 'A', 'NXDOMAIN', [], '127.0.0.1', port],
      ],
    );
    assert.ok(dns.filter((e) => e.kind === 'answer').every((e) => (e.latencyNs ?? 0) > 0));
  });
  test('pod level: with the pod cgroup filtered at its level, the queries of a container created below it count; without the level they do not', async () => {
    await withPodCgroup('dns-pod', async ({ pod, container, level }) => {
      const [cmd, args] = ns.wrap('python3', ['-c', CLIENT]);
      let run = { pid: 0, stdout: '', stderr: '', code: 0 as number | null };
      const podLevel = await traceDuring({ gadget: 'dns', cgroupIds: [pod.id], ancestorLevels: [level] }, async () => {
        run = await runInCgroup(container, cmd, args);
        await runInCgroup(other, cmd, args);
      });
      assert.equal(run.code, 0, run.stderr);
      const port = Number(/port (\d+)/.exec(run.stdout)?.[1]);
      const seen = (podLevel.events as DnsEvent[]).map((e) => [e.cgroupId, e.pid, e.kind, e.id, e.kind === 'query' ? e.sport : e.dport]);
      const row = (kind: string, id: number) => [container.id, run.pid, kind, id, port];
      assert.deepEqual(seen, [row('query', 0x1111), row('answer', 0x1111), row('query', 0x2222), row('answer', 0x2222)]);
      const exact = await traceDuring({ gadget: 'dns', cgroupIds: [pod.id] }, () => runInCgroup(container, cmd, args).then(() => undefined));
      assert.deepEqual(exact.events, []);
    });
  });
});
