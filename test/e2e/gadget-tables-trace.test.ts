/**
 * End to end on this machine: `tracejob run blockio|tcpdrop … --wait` against the all-in-one server
 * (API + scheduler + local backend + private redis-server) with a real runner counting in the
 * kernel (the gadgets' default summary mode). The workloads start once the CLI says every node is
 * tracing; a second cgroup does the same I/O and drops and must not show. The CLI prints the
 * tables (latency histogram bars, top processes, drops per reason and per flow) and the bundle's
 * summary.json carries them.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import type { BlockioSummary, TcpdropSummary } from '../../contracts/index.ts';
import { loadConfig } from '../../state/src/config.ts';
import { buildGadgetObject, runInCgroup } from '../../bpf/src/gadget-test-fixture.ts';
import { runCli } from '../../cli/main.ts';
import { startAllInOne, type RunningServer } from '../../cli/serve.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';
import { createTestNetns, type TestNetns } from '../support/netns.ts';
import { untarGzText } from '../support/tar.ts';

const skip = kernelTestSkipReason();

let server: RunningServer;
let dataDir: string;
let target: TestCgroup;
let other: TestCgroup;
let loop = '';
let ns: TestNetns;
const DROPPED_PORT = 9999;

before(async () => {
  if (skip) return;
  buildGadgetObject('blockio');
  buildGadgetObject('tcpdrop');
  dataDir = mkdtempSync(join(tmpdir(), 'tracejob-e2e-tables-'));
  const backing = join(dataDir, 'disk.img');
  writeFileSync(backing, '');
  truncateSync(backing, 4 << 20);
  loop = execFileSync('losetup', ['--find', '--show', backing], { encoding: 'utf8' }).trim();
  ns = createTestNetns('tables');
  ns.exec('iptables', ['-w', '-A', 'OUTPUT', '-p', 'udp', '--dport', String(DROPPED_PORT), '-j', 'DROP']);
  server = await startAllInOne(loadConfig({ DATA_DIR: dataDir, PORT: '0', NODE_NAME: 'e2e-node', LOG_LEVEL: 'silent' }));
  target = createTestCgroup(uniqueCgroupPath('tables-target'));
  other = createTestCgroup(uniqueCgroupPath('tables-other'));
});

after(async () => {
  if (skip) return;
  await server?.close();
  ns?.destroy();
  if (loop) execFileSync('losetup', ['--detach', loop]);
  await target?.destroy();
  await other?.destroy();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** `tracejob run … --wait`, calling `whileTracing` once the CLI says every node traces. */
async function runWhileTracing(argv: string[], whileTracing: () => Promise<void>): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  let workload: Promise<void> | undefined;
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (!workload && /reproduce the problem now/.test(err)) workload = whileTracing();
  });
  const code = await runCli(argv, { stdout, stderr, env: { TRACEJOB_SERVER: server.url }, stderrIsTty: false });
  assert.ok(workload, `the CLI never said it was tracing:\n${err}`);
  await workload;
  return { code, stdout: out, stderr: err };
}

async function bundleSummary(stderr: string): Promise<{ blockio?: BlockioSummary; tcpdrop?: TcpdropSummary; lostEvents: number }> {
  const id = /trace ([0-9a-f-]{36})/.exec(stderr)?.[1];
  assert.ok(id, stderr);
  const bundle = await untarGzText(Buffer.from(await (await fetch(`${server.url}/v1/traces/${id}/bundle`)).arrayBuffer()));
  return JSON.parse(bundle.get('summary.json')!) as { blockio?: BlockioSummary; lostEvents: number };
}

test('blockio: the CLI prints the latency histogram of the target’s I/O per disk and op and its top processes; the bundle carries the tables', { skip }, async () => {
  let reads = { pid: 0, code: 0 as number | null, stderr: '', stdout: '' };
  let writes = { pid: 0, code: 0 as number | null, stderr: '', stdout: '' };
  const run = await runWhileTracing(['run', 'blockio', '--cgroup', target.relPath, '-d', '4s', '--wait'], async () => {
    reads = await runInCgroup(target, 'dd', [`if=${loop}`, 'of=/dev/null', 'bs=4096', 'count=3', 'iflag=direct', 'status=none']);
    writes = await runInCgroup(target, 'dd', ['if=/dev/zero', `of=${loop}`, 'bs=8192', 'count=2', 'seek=10', 'oflag=direct', 'status=none']);
    await runInCgroup(other, 'dd', [`if=${loop}`, 'of=/dev/null', 'bs=4096', 'count=5', 'iflag=direct', 'status=none']);
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(reads.code, 0, reads.stderr);
  assert.equal(writes.code, 0, writes.stderr);
  const disk = basename(loop);
  const { rdev } = statSync(loop);
  const device = `${Math.floor(rdev / 256)}:${rdev % 256}`;
  assert.match(run.stdout, new RegExp(`\\n${disk} \\(${device}\\) read: 3 requests, 12\\.0 KiB, avg \\d+ (us|ms), max \\d+(\\.\\d)? (us|ms)\\n +usecs : count +distribution\\n`));
  assert.match(run.stdout, new RegExp(`\\n${disk} \\(${device}\\) write: 2 requests, 16\\.0 KiB, `));
  assert.match(run.stdout, /\|\*{40}\|/, 'the fullest slot has the full bar');
  assert.match(run.stdout, new RegExp(`\\n16\\.0 KiB +2 +\\S+ \\S+ +${writes.pid} +dd +cgroup ${target.id} @e2e-node\\n`));

  const summary = await bundleSummary(run.stderr);
  assert.equal(summary.lostEvents, 0);
  const onLoop = summary.blockio!.perDevice.filter((d) => d.disk === disk);
  assert.deepEqual(
    onLoop.map((d) => [d.op, d.requests, d.bytes, d.errors, d.latencyUsSlots.reduce((a, b) => a + b, 0)]),
    [
      ['read', 3, 12288, 0, 3],
      ['write', 2, 16384, 0, 2],
    ],
  );
  assert.equal(summary.blockio!.mode, 'summary');
  assert.ok(summary.blockio!.topProcesses.every((p) => p.cgroupId === target.id && p.node === 'e2e-node'));
  assert.ok(summary.blockio!.topProcesses.some((p) => p.pid === reads.pid && p.bytes >= 12288));
});

/** Three UDP datagrams to the port the namespace drops; prints the source port. */
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

test('tcpdrop: the CLI prints the target’s drops per reason and per flow; the bundle carries the tables', { skip }, async () => {
  let sender = { pid: 0, code: 0 as number | null, stderr: '', stdout: '' };
  const run = await runWhileTracing(['run', 'tcpdrop', '--cgroup', target.relPath, '-d', '3s', '--wait'], async () => {
    const [cmd, args] = ns.wrap('python3', ['-c', SENDER, String(DROPPED_PORT)]);
    sender = await runInCgroup(target, cmd, args);
    await runInCgroup(other, cmd, args);
  });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(sender.code, 0, sender.stderr);
  const sport = Number(/sport (\d+)/.exec(sender.stdout)?.[1]);
  assert.match(run.stdout, /packets dropped \(summary\): 3\n/);
  assert.match(run.stdout, /drops per reason\nDROPS +REASON\n3 +NETFILTER_DROP\n\n/);
  assert.match(run.stdout, new RegExp(`\\n3 +NETFILTER_DROP +udp +127\\.0\\.0\\.1:${sport} +127\\.0\\.0\\.1:${DROPPED_PORT} +${sender.pid} +python3 +cgroup ${target.id} @e2e-node\\n`));
  const summary = await bundleSummary(run.stderr);
  assert.deepEqual(summary.tcpdrop, {
    mode: 'summary',
    drops: 3,
    perReason: [{ reason: 'NETFILTER_DROP', drops: 3 }],
    top: [
      {
        reason: 'NETFILTER_DROP',
        pid: sender.pid,
        comm: 'python3',
        cgroupId: target.id,
        node: 'e2e-node',
        protocol: 'udp',
        saddr: '127.0.0.1',
        daddr: '127.0.0.1',
        sport,
        dport: DROPPED_PORT,
        drops: 3,
      },
    ],
  });
});
