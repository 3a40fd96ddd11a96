import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../../test/support/cgroups.ts';
import { formatIPv6 } from '../../src/record-fields.ts';
import { buildGadgetObject, runInCgroup, traceDuring } from '../../src/gadget-test-fixture.ts';
import { validateParams } from '../index.ts';
import { bindGadget, decodeBind, type BindEvent } from './bind.ts';

const ctx = { bootToWallOffsetNs: 0n };

/** A record as bind.bpf.c lays it out (test input built by hand, not by the kernel). */
function syntheticRecord(o: { ret: number; family: number; port: number; protocol: number; sockType: number; addr: number[] }): Buffer {
  const rec = Buffer.alloc(80);
  rec.writeUInt32LE(9, 16);
  rec.write('nginx', 32);
  rec.writeInt32LE(o.ret, 48);
  rec.writeInt32LE(3, 52);
  rec.writeUInt16LE(o.family, 56);
  rec.writeUInt16LE(o.port, 58);
  rec.writeUInt16LE(o.protocol, 60);
  rec.writeUInt16LE(o.sockType, 62);
  Buffer.from(o.addr).copy(rec, 64);
  return rec;
}

describe('bind decoder', () => {
  test('IPv4 TCP bind', () => {
    const e = decodeBind(syntheticRecord({ ret: 0, family: 2, port: 8080, protocol: 6, sockType: 1, addr: [10, 0, 0, 7] }), ctx);
    assert.deepEqual([e.family, e.address, e.port, e.protocol, e.sockType, e.ret, e.error], ['inet', '10.0.0.7', 8080, 'tcp', 'stream', 0, undefined]);
  });

  test('IPv6 UDP bind that failed', () => {
    const addr = [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1];
    const e = decodeBind(syntheticRecord({ ret: -98, family: 10, port: 53, protocol: 17, sockType: 2, addr }), ctx);
    assert.deepEqual([e.family, e.address, e.protocol, e.error], ['inet6', '2001:db8::1', 'udp', 'EADDRINUSE']);
  });

  test('unix socket: no address or port', () => {
    const e = decodeBind(syntheticRecord({ ret: 0, family: 1, port: 0, protocol: 0, sockType: 1, addr: [] }), ctx);
    assert.equal(e.family, 'unix');
    assert.equal(e.address, undefined);
    assert.equal(e.port, undefined);
    assert.equal(e.protocol, undefined);
  });

  test('IPv6 text follows RFC 5952', () => {
    const b = (groups: number[]) => {
      const buf = Buffer.alloc(16);
      groups.forEach((g, i) => buf.writeUInt16BE(g, i * 2));
      return buf;
    };
    assert.equal(formatIPv6(b([0, 0, 0, 0, 0, 0, 0, 1]), 0), '::1');
    assert.equal(formatIPv6(b([0, 0, 0, 0, 0, 0, 0, 0]), 0), '::');
    assert.equal(formatIPv6(b([0x2001, 0xdb8, 0, 1, 0, 0, 0, 1]), 0), '2001:db8:0:1::1');
    assert.equal(formatIPv6(b([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]), 0), '::ffff:127.0.0.1');
  });

  test('config and params', () => {
    assert.deepEqual([...bindGadget.encodeConfig({ port: 443 }, true)], [1, 0, 443 & 255, 443 >> 8]);
    assert.deepEqual([...bindGadget.encodeConfig({}, false)], [0, 0, 0, 0]);
    const r = validateParams('bind', { port: 70000 });
    assert.equal(r.ok, false);
    assert.equal(r.errors[0]?.field, 'port');
    assert.equal(validateParams('bind', { prot: 1 }).errors[0]?.field, 'prot');
  });
});

function listen(host: string, port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

async function freePort(): Promise<number> {
  const s = await listen('127.0.0.1');
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const perlBind = (family: 'inet' | 'inet6', type: 'STREAM' | 'DGRAM', host: string, port: number) =>
  family === 'inet'
    ? `socket(my $s, AF_INET, SOCK_${type}, 0) or die; bind($s, pack_sockaddr_in(${port}, inet_aton("${host}"))) or print "bind failed: $!\\n";`
    : `socket(my $s, AF_INET6, SOCK_${type}, 0) or die; bind($s, pack_sockaddr_in6(${port}, inet_pton(AF_INET6, "${host}"))) or print "bind failed: $!\\n";`;

const skip = kernelTestSkipReason();

describe('bind in the kernel', { skip }, () => {
  let traced: TestCgroup;
  let other: TestCgroup;
  let busy: Server;
  let busyPort: number;
  before(async () => {
    buildGadgetObject('bind');
    traced = createTestCgroup(uniqueCgroupPath('bind-traced'));
    other = createTestCgroup(uniqueCgroupPath('bind-other'));
    busy = await listen('127.0.0.1');
    busyPort = (busy.address() as { port: number }).port;
  });
  after(async () => {
    await traced?.destroy();
    await other?.destroy();
    busy?.close();
  });

  test('exact address, port, protocol and result in the traced cgroup; nothing of the other', async () => {
    const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
    let perlPid = 0;
    const { events } = await traceDuring({ gadget: 'bind', cgroupIds: [traced.id] }, async () => {
      const r = await runInCgroup(traced, 'perl', [
        '-MSocket=:all',
        '-e',
        perlBind('inet', 'STREAM', '127.0.0.1', p1) + perlBind('inet6', 'DGRAM', '::1', p2) + perlBind('inet', 'STREAM', '127.0.0.1', busyPort),
      ]);
      perlPid = r.pid;
      assert.match(r.stdout, /bind failed: Address already in use/);
      await runInCgroup(other, 'perl', ['-MSocket=:all', '-e', perlBind('inet', 'STREAM', '127.0.0.1', p3)]);
    });
    const binds = (events as BindEvent[]).filter((e) => e.pid === perlPid);
    assert.deepEqual(
      binds.map((e) => [e.family, e.address, e.port, e.protocol, e.sockType, e.ret, e.error, e.comm, e.cgroupId]),
      [
        ['inet', '127.0.0.1', p1, 'tcp', 'stream', 0, undefined, 'perl', traced.id],
        ['inet6', '::1', p2, 'udp', 'dgram', 0, undefined, 'perl', traced.id],
        ['inet', '127.0.0.1', busyPort, 'tcp', 'stream', -98, 'EADDRINUSE', 'perl', traced.id],
      ],
    );
    assert.deepEqual((events as BindEvent[]).filter((e) => e.cgroupId !== traced.id || e.port === p3), []);
  });

  test("'all' sees both cgroups", async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const { events } = await traceDuring({ gadget: 'bind', cgroupIds: 'all' }, async () => {
      await runInCgroup(traced, 'perl', ['-MSocket=:all', '-e', perlBind('inet', 'STREAM', '127.0.0.1', p1)]);
      await runInCgroup(other, 'perl', ['-MSocket=:all', '-e', perlBind('inet', 'STREAM', '127.0.0.1', p2)]);
    });
    const binds = events as BindEvent[];
    assert.ok(binds.some((e) => e.cgroupId === traced.id && e.port === p1));
    assert.ok(binds.some((e) => e.cgroupId === other.id && e.port === p2));
  });

  test('the port param filters in the kernel', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const { events } = await traceDuring({ gadget: 'bind', params: { port: p2 }, cgroupIds: [traced.id] }, async () => {
      await runInCgroup(traced, 'perl', ['-MSocket=:all', '-e', perlBind('inet', 'STREAM', '127.0.0.1', p1) + perlBind('inet', 'DGRAM', '127.0.0.1', p2)]);
    });
    assert.deepEqual(
      (events as BindEvent[]).map((e) => [e.port, e.protocol]),
      [[p2, 'udp']],
    );
  });
});
