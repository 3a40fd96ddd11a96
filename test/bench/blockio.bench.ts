/**
 * Cost of the blockio gadget for the workload it traces, in its two modes, against libbpf-tools'
 * biolatency doing the same job (a latency histogram of one cgroup's block I/O) in the same run.
 * The workload is `dd` in a test cgroup reading a loop device with O_DIRECT, 4 KiB at a time
 * (--requests of them), timed with nothing attached, under a GadgetSession of blockio in
 * `summary` mode (counted in the kernel: a hash-map update per request, the entries read once at
 * the end) and `stream` mode (a ring-buffer record per request, decoded to an event), and under
 * `biolatency -d <loop disk>` (libbpf-tools: one histogram; filtered on the disk, see underBiolatency). Figures: the workload's
 * wall time and CPU time (user + system of dd, from /usr/bin/time), the tracer's CPU time for the
 * whole variant (this process's for a session: load, attach, reading, decoding; biolatency's
 * process up to its exit), how many events the session handed over (the size of the result) and
 * how many requests each counted (the smallest of the rounds).
 * Rounds interleave the variants; the minimum of each is kept, the median printed too.
 *
 * Usage: npm run bench:blockio -- [--json] [--rounds 5] [--requests 20000]
 * Prints one JSON line. Target: summary mode costs the workload no more than biolatency does, and
 * its result does not grow with the number of requests.
 */
import { spawn } from 'node:child_process';
import { createTestLoopDevice, type TestLoopDevice } from '../../bpf/gadgets/blockio/blockio-test-workload.ts';
import { buildGadgetObject, runInCgroup } from '../../bpf/src/gadget-test-fixture.ts';
import { GadgetSession } from '../../bpf/src/gadget-session.ts';
import { DEFAULT_RING_BUFFER_BYTES_PER_CPU, ringBufferBytesFor } from '../../bpf/src/ring-buffer-size.ts';
import { cpus } from 'node:os';
import { createTestCgroup, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';
import { kernelBenchArgs, median, sampleProcessCpu } from './bench-figures.ts';

const { rounds, counts, log } = kernelBenchArgs('blockio', { requests: '20000' });
const requests = counts.requests;

interface Result {
  workloadWallMs: number;
  workloadCpuMs: number;
  tracerCpuMs: number;
  events: number;
  /** Requests the tracer counted (its histogram's total). */
  counted?: number;
  /** Requests the session reported lost (ring buffer or table full). */
  lost?: number;
}

async function timeWorkload(cgroup: TestCgroup, loop: TestLoopDevice): Promise<Omit<Result, 'tracerCpuMs' | 'events'>> {
  const r = await runInCgroup(cgroup, '/usr/bin/time', ['-f', 'TIME %e %U %S', 'dd', `if=${loop.path}`, 'of=/dev/null', 'bs=4096', `count=${requests}`, 'iflag=direct', 'status=none']);
  if (r.code !== 0) throw new Error(`workload failed (${r.code}): ${r.stderr}`);
  const [wall, user, sys] = (/TIME (\S+) (\S+) (\S+)/.exec(r.stderr)?.slice(1) ?? []).map(Number);
  return { workloadWallMs: wall! * 1000, workloadCpuMs: (user! + sys!) * 1000 };
}

async function underSession(cgroup: TestCgroup, loop: TestLoopDevice, mode: 'summary' | 'stream'): Promise<Result> {
  const before = process.cpuUsage();
  let events = 0;
  let counted = 0;
  const session = await GadgetSession.start({
    gadget: 'blockio',
    params: { mode },
    cgroupIds: [cgroup.id],
    // as the runner sizes it by default
    ringBufferBytes: ringBufferBytesFor({ cpus: cpus().length, bytesPerCpu: DEFAULT_RING_BUFFER_BYTES_PER_CPU }),
    onEvents(batch) {
      events += batch.length;
      for (const e of batch) if (e.disk === loop.disk) counted += typeof e.requests === 'number' ? e.requests : 1;
    },
  });
  let time;
  try {
    time = await timeWorkload(cgroup, loop);
  } finally {
    await session.finish();
  }
  const cpu = process.cpuUsage(before);
  return { ...time, tracerCpuMs: (cpu.user + cpu.system) / 1000, events, counted, lost: session.lostEvents() };
}

/**
 * biolatency filters on the disk, not the cgroup: its `-c` checks the task that issues the request,
 * which for a loop device is the loop worker, never the workload (blockio checks the submitter).
 */
async function underBiolatency(cgroup: TestCgroup, loop: TestLoopDevice): Promise<Result> {
  // line-buffered: its 'Tracing …' line is the readiness signal, and a pipe would hold it back
  const child = spawn('stdbuf', ['-oL', 'biolatency', '-d', loop.disk], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => {
      if (/Tracing block device I\/O/.test(out)) resolve();
    });
    child.on('close', (code) => reject(new Error(`biolatency exited (${code}) before attaching: ${err.trim()}`)));
  });
  const cpu = sampleProcessCpu(child.pid!);
  let cpuMs = 0;
  let time;
  try {
    time = await timeWorkload(cgroup, loop);
  } finally {
    child.kill('SIGINT');
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(killer);
    cpuMs = cpu.stop();
  }
  const counted = [...out.matchAll(/: (\d+) +\|/g)].reduce((n, m) => n + Number(m[1]), 0);
  if (counted === 0) throw new Error(`biolatency counted nothing:\n${out}`);
  return { ...time, tracerCpuMs: cpuMs, events: 0, counted };
}

const cgroup = createTestCgroup(uniqueCgroupPath('blockio-bench'));
let loop: TestLoopDevice | undefined;
try {
  buildGadgetObject('blockio');
  loop = createTestLoopDevice(requests * 4096);
  const disk = loop;
  const variants: { name: string; run: () => Promise<Result> }[] = [
    { name: 'baseline', run: async () => ({ ...(await timeWorkload(cgroup, disk)), tracerCpuMs: 0, events: 0 }) },
    { name: 'summary', run: () => underSession(cgroup, disk, 'summary') },
    { name: 'stream', run: () => underSession(cgroup, disk, 'stream') },
    { name: 'biolatency', run: () => underBiolatency(cgroup, disk) },
  ];
  // warm-up, not counted: the first session pays for loading the addon and reading the object's BTF
  for (const v of variants) await v.run();
  const results = new Map<string, Result[]>(variants.map((v) => [v.name, []]));
  for (let round = 0; round < rounds; round += 1) {
    for (let i = 0; i < variants.length; i += 1) {
      const v = variants[(i + round) % variants.length]!;
      const r = await v.run();
      results.get(v.name)!.push(r);
      log(`round ${round + 1} ${v.name}: dd ${r.workloadWallMs.toFixed(0)} ms wall, ${r.workloadCpuMs.toFixed(0)} ms CPU; tracer ${r.tracerCpuMs.toFixed(0)} ms CPU; ${r.events} events, ${r.counted ?? '-'} requests counted, ${r.lost ?? 0} lost`);
    }
  }
  const summarize = (name: string) => {
    const rs = results.get(name)!;
    const pick = (f: (r: Result) => number) => ({ min: Math.min(...rs.map(f)), median: median(rs.map(f)) });
    return {
      workloadWallMs: pick((r) => r.workloadWallMs),
      workloadCpuMs: pick((r) => r.workloadCpuMs),
      tracerCpuMs: pick((r) => r.tracerCpuMs),
      events: Math.max(...rs.map((r) => r.events)),
      counted: Math.min(...rs.map((r) => r.counted ?? 0)),
      lost: Math.max(...rs.map((r) => r.lost ?? 0)),
    };
  };
  const base = summarize('baseline');
  const out: Record<string, unknown> = { bench: 'blockio', requests, rounds, baseline: base };
  for (const name of ['summary', 'stream', 'biolatency']) {
    const s = summarize(name);
    out[name] = { ...s, workloadCpuRatio: s.workloadCpuMs.min / base.workloadCpuMs.min, workloadWallRatio: s.workloadWallMs.min / base.workloadWallMs.min };
  }
  const sum = out.summary as { workloadWallMs: { min: number }; tracerCpuMs: { min: number } };
  const bio = out.biolatency as { workloadWallMs: { min: number }; tracerCpuMs: { min: number } };
  const str = out.stream as { tracerCpuMs: { min: number } };
  out.summaryVsBiolatency = { workloadWall: sum.workloadWallMs.min / bio.workloadWallMs.min, tracerCpu: sum.tracerCpuMs.min / bio.tracerCpuMs.min };
  out.summaryVsStream = { tracerCpu: sum.tracerCpuMs.min / str.tracerCpuMs.min };
  console.log(JSON.stringify(out));
} finally {
  loop?.destroy();
  await cgroup.destroy();
}
