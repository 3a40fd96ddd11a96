import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../../test/support/cgroups.ts';
import { buildGadgetObject, runInCgroup, traceDuring } from '../../src/gadget-test-fixture.ts';
import { validateParams } from '../index.ts';
import { connectResult, decodeTcpconnect, tcpconnectGadget, type TcpconnectEvent } from './tcpconnect.ts';

const ctx = { bootToWallOffsetNs: 0n };

/** A record as tcpconnect.bpf.c lays it out (test input built by hand, not by the kernel). */
function syntheticRecord(o: { family: number; newState: number; skErr: number; saddr: number[]; daddr: number[] }): Buffer {
  const rec = Buffer.alloc(104);
  rec.writeUInt32LE(42, 16);
  rec.write('curl', 32);
  rec.writeBigUInt64LE(1500n, 48);
  rec.writeUInt16LE(o.family, 56);
  rec.writeUInt16LE(40000, 58);
  rec.writeUInt16LE(443, 60);
  rec.writeUInt8(o.newState, 62);
  rec.writeInt32LE(o.skErr, 64);
  Buffer.from(o.saddr).copy(rec, 72);
  Buffer.from(o.daddr).copy(rec, 88);
  return rec;
}

describe('tcpconnect decoder', () => {
  test('an established IPv4 connection', () => {
    const e = decodeTcpconnect(syntheticRecord({ family: 2, newState: 1, skErr: 0, saddr: [10, 1, 2, 3], daddr: [93, 184, 216, 34] }), ctx);
    assert.deepEqual(
      [e.family, e.saddr, e.daddr, e.sport, e.dport, e.result, e.error, e.latencyNs, e.pid, e.comm],
      ['inet', '10.1.2.3', '93.184.216.34', 40000, 443, 'established', undefined, 1500, 42, 'curl'],
    );
  });

  test('a timed out IPv6 connection', () => {
    const e = decodeTcpconnect(
      syntheticRecord({ family: 10, newState: 7, skErr: 110, saddr: [...Array(15).fill(0), 1], daddr: [0xfe, 0x80, ...Array(13).fill(0), 2] }),
      ctx,
    );
    assert.deepEqual([e.family, e.saddr, e.daddr, e.result, e.error], ['inet6', '::1', 'fe80::2', 'timed out', 'ETIMEDOUT']);
  });

  test('outcomes by state and sk_err', () => {
    assert.equal(connectResult(7, 111), 'refused');
    assert.equal(connectResult(7, 113), 'unreachable');
    assert.equal(connectResult(7, 0), 'closed');
    assert.equal(connectResult(7, 5), 'error');
    assert.equal(connectResult(1, 0), 'established');
  });

  test('config and params', () => {
    assert.deepEqual([...tcpconnectGadget.encodeConfig({ port: 80 }, true)], [1, 0, 80, 0]);
    assert.equal(validateParams('tcpconnect', { port: 0 }).errors[0]?.field, 'port');
  });
});

function listen(host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((sock) => sock.destroy());
    server.once('error', reject);
    server.listen(0, host, () => resolve(server));
  });
}

async function closedPort(host: string): Promise<number> {
  const s = await listen(host);
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const perlConnect = (family: 'inet' | 'inet6', host: string, port: number) =>
  family === 'inet'
    ? `socket(my $s, AF_INET, SOCK_STREAM, 0) or die; if (connect($s, pack_sockaddr_in(${port}, inet_aton("${host}")))) { my ($p) = unpack_sockaddr_in(getsockname($s)); print "sport $p\\n" } else { print "failed: $!\\n" }`
    : `socket(my $s, AF_INET6, SOCK_STREAM, 0) or die; if (connect($s, pack_sockaddr_in6(${port}, inet_pton(AF_INET6, "${host}")))) { my ($p) = unpack_sockaddr_in6(getsockname($s)); print "sport $p\\n" } else { print "failed: $!\\n" }`;

const skip = kernelTestSkipReason();

describe('tcpconnect in the kernel', { skip }, () => {
  let traced: TestCgroup;
  let other: TestCgroup;
  let server4: Server;
  let server6: Server | undefined;
  before(async () => {
    buildGadgetObject('tcpconnect');
    traced = createTestCgroup(uniqueCgroupPath('tcp-traced'));
    other = createTestCgroup(uniqueCgroupPath('tcp-other'));
    server4 = await listen('127.0.0.1');
    server6 = await listen('::1').catch(() => undefined);
  });
  after(async () => {
    await traced?.destroy();
    await other?.destroy();
    server4?.close();
    server6?.close();
  });

  test('established and refused with exact addresses and ports, attributed to the connecting process; nothing of the other cgroup', async () => {
    const open4 = (server4.address() as { port: number }).port;
    const closed4 = await closedPort('127.0.0.1');
    let run = { pid: 0, stdout: '' };
    const { events } = await traceDuring({ gadget: 'tcpconnect', cgroupIds: [traced.id] }, async () => {
      run = await runInCgroup(traced, 'perl', ['-MSocket=:all', '-e', perlConnect('inet', '127.0.0.1', open4) + perlConnect('inet', '127.0.0.1', closed4)]);
      await runInCgroup(other, 'perl', ['-MSocket=:all', '-e', perlConnect('inet', '127.0.0.1', open4) + perlConnect('inet', '127.0.0.1', closed4)]);
    });
    const sport = Number(/sport (\d+)/.exec(run.stdout)?.[1]);
    assert.match(run.stdout, /failed: Connection refused/);
    const conns = events as TcpconnectEvent[];
    assert.deepEqual(
      conns.map((e) => [e.pid, e.comm, e.cgroupId, e.family, e.daddr, e.dport, e.result]),
      [
        [run.pid, 'perl', traced.id, 'inet', '127.0.0.1', open4, 'established'],
        [run.pid, 'perl', traced.id, 'inet', '127.0.0.1', closed4, 'refused'],
      ],
    );
    assert.equal(conns[0]?.saddr, '127.0.0.1');
    assert.equal(conns[0]?.sport, sport);
    assert.equal(conns[1]?.error, 'ECONNREFUSED');
    assert.ok((conns[0]?.latencyNs ?? -1) >= 0);
  });

  test('IPv6 loopback, refused and established', async (t) => {
    if (!server6) {
      t.skip('no IPv6 loopback');
      return;
    }
    const open6 = (server6.address() as { port: number }).port;
    const closed6 = await closedPort('::1');
    const { events } = await traceDuring({ gadget: 'tcpconnect', cgroupIds: [traced.id] }, async () => {
      await runInCgroup(traced, 'perl', ['-MSocket=:all', '-e', perlConnect('inet6', '::1', open6) + perlConnect('inet6', '::1', closed6)]);
    });
    assert.deepEqual(
      (events as TcpconnectEvent[]).map((e) => [e.family, e.saddr, e.daddr, e.dport, e.result]),
      [
        ['inet6', '::1', '::1', open6, 'established'],
        ['inet6', '::1', '::1', closed6, 'refused'],
      ],
    );
  });

  test("'all' sees both cgroups; the port param keeps one destination", async () => {
    const open4 = (server4.address() as { port: number }).port;
    const closed4 = await closedPort('127.0.0.1');
    const all = await traceDuring({ gadget: 'tcpconnect', cgroupIds: 'all' }, async () => {
      await runInCgroup(traced, 'perl', ['-MSocket=:all', '-e', perlConnect('inet', '127.0.0.1', open4)]);
      await runInCgroup(other, 'perl', ['-MSocket=:all', '-e', perlConnect('inet', '127.0.0.1', closed4)]);
    });
    const conns = all.events as TcpconnectEvent[];
    assert.ok(conns.some((e) => e.cgroupId === traced.id && e.dport === open4 && e.result === 'established'));
    assert.ok(conns.some((e) => e.cgroupId === other.id && e.dport === closed4 && e.result === 'refused'));

    const one = await traceDuring({ gadget: 'tcpconnect', params: { port: closed4 }, cgroupIds: [traced.id] }, async () => {
      await runInCgroup(traced, 'perl', ['-MSocket=:all', '-e', perlConnect('inet', '127.0.0.1', open4) + perlConnect('inet', '127.0.0.1', closed4)]);
    });
    assert.deepEqual(
      (one.events as TcpconnectEvent[]).map((e) => [e.dport, e.result]),
      [[closed4, 'refused']],
    );
  });
});
