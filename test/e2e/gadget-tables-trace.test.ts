/**
 * End to end on this machine: `tracejob run blockio|tcpdrop … --wait` against the all-in-one server
 * (API + scheduler + local backend + private redis-server) with a real runner counting in the
 * kernel (the gadgets' default summary mode). The workloads start once the CLI says every node is
 * tracing; a second cgroup does the same I/O and drops and must not show. The CLI prints the
 * tables (latency histogram bars, top processes, drops per reason and per flow) and the bundle's
 * summary.json carries them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import type { BlockioSummary, TcpdropSummary } from '../../contracts/index.ts';
import { loadConfig } from '../../state/src/config.ts';
import { createTestLoopDevice, directIo, type DirectIoRun, type TestLoopDevice } from '../../bpf/gadgets/blockio/blockio-test-workload.ts';
import { createUdpDropNetns, type DroppedSend, type UdpDropNetns } from '../../bpf/gadgets/tcpdrop/tcpdrop-test-workload.ts';
import { buildGadgetObject } from '../../bpf/src/gadget-test-fixture.ts';
import { runCli } from '../../cli/main.ts';
import { startAllInOne, type RunningServer } from '../../cli/serve.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';
import { untarGzText } from '../support/tar.ts';

const skip = kernelTestSkipReason();

let server: RunningServer;
let dataDir: string;
let target: TestCgroup;
let other: TestCgroup;
let loop: TestLoopDevice | undefined;
let net: UdpDropNetns | undefined;

before(async () => {
  if (skip) return;
  buildGadgetObject('blockio');
  buildGadgetObject('tcpdrop');
  dataDir = mkdtempSync(join(tmpdir(), 'tracejob-e2e-tables-'));
  loop = createTestLoopDevice();
  net = createUdpDropNetns('tables');
  server = await startAllInOne(loadConfig({ DATA_DIR: dataDir, PORT: '0', NODE_NAME: 'e2e-node', LOG_LEVEL: 'silent' }));
  target = createTestCgroup(uniqueCgroupPath('tables-target'));
  other = createTestCgroup(uniqueCgroupPath('tables-other'));
});

after(async () => {
  if (skip) return;
  await server?.close();
  net?.destroy();
  loop?.destroy();
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
  const disk = loop!;
  let io: DirectIoRun = { readerPid: 0, writerPid: 0 };
  const run = await runWhileTracing(['run', 'blockio', '--cgroup', target.relPath, '-d', '4s', '--wait'], async () => {
    io = await directIo(disk, target, other);
  });
  assert.equal(run.code, 0, run.stderr);
  const { device } = disk;
  assert.match(run.stdout, new RegExp(`\\n${disk.disk} \\(${device}\\) read: 3 requests, 12\\.0 KiB, avg \\d+ (us|ms), max \\d+(\\.\\d)? (us|ms)\\n +usecs : count +distribution\\n`));
  assert.match(run.stdout, new RegExp(`\\n${disk.disk} \\(${device}\\) write: 2 requests, 16\\.0 KiB, `));
  assert.match(run.stdout, /\|\*{40}\|/, 'the fullest slot has the full bar');
  assert.match(run.stdout, new RegExp(`\\n16\\.0 KiB +2 +\\S+ \\S+ +${io.writerPid} +dd +cgroup ${target.id} @e2e-node\\n`));

  const summary = await bundleSummary(run.stderr);
  assert.equal(summary.lostEvents, 0);
  const onLoop = summary.blockio!.perDevice.filter((d) => d.disk === disk.disk);
  assert.deepEqual(
    onLoop.map((d) => [d.op, d.requests, d.bytes, d.errors, d.latencyUsSlots.reduce((a, b) => a + b, 0)]),
    [
      ['read', 3, 12288, 0, 3],
      ['write', 2, 16384, 0, 2],
    ],
  );
  assert.equal(summary.blockio!.mode, 'summary');
  assert.ok(summary.blockio!.topProcesses.every((p) => p.cgroupId === target.id && p.node === 'e2e-node'));
  assert.ok(summary.blockio!.topProcesses.some((p) => p.pid === io.readerPid && p.bytes >= 12288));
});

test('tcpdrop: the CLI prints the target’s drops per reason and per flow; the bundle carries the tables', { skip }, async () => {
  let sent: DroppedSend = { pid: 0, sport: 0 };
  const run = await runWhileTracing(['run', 'tcpdrop', '--cgroup', target.relPath, '-d', '3s', '--wait'], async () => {
    sent = await net!.send(target);
    await net!.send(other);
  });
  assert.equal(run.code, 0, run.stderr);
  const port = net!.port;
  assert.match(run.stdout, /packets dropped \(summary\): 3\n/);
  assert.match(run.stdout, /drops per reason\nDROPS +REASON\n3 +NETFILTER_DROP\n\n/);
  assert.match(run.stdout, new RegExp(`\\n3 +NETFILTER_DROP +udp +127\\.0\\.0\\.1:${sent.sport} +127\\.0\\.0\\.1:${port} +${sent.pid} +python3 +cgroup ${target.id} @e2e-node\\n`));
  const summary = await bundleSummary(run.stderr);
  assert.deepEqual(summary.tcpdrop, {
    mode: 'summary',
    drops: 3,
    perReason: [{ reason: 'NETFILTER_DROP', drops: 3 }],
    top: [{ reason: 'NETFILTER_DROP', pid: sent.pid, comm: 'python3', cgroupId: target.id, node: 'e2e-node', protocol: 'udp', saddr: '127.0.0.1', daddr: '127.0.0.1', sport: sent.sport, dport: port, drops: 3 }],
  });
});
