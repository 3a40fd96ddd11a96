/**
 * Cost of the profile gadget for the workload it profiles, against bpftrace doing the same job in
 * the same run. A CPU-bound C workload (burn_cpu() N times, testdata/burn.c) in a test cgroup is
 * timed with nothing attached, under the profile gadget (a GadgetSession:
 * per-CPU perf events, cgroup filter, stacks counted in the kernel, 1 s polls, symbolization at the
 * end) at 49 Hz and 999 Hz, and under
 *   bpftrace -e 'profile:hz:N /cgroup == cgroupid("<cgroup>")/ { @[ustack, kstack] = count(); }'
 * at the same frequencies. The figure compared is the workload's own CPU time
 * (CLOCK_PROCESS_CPUTIME_ID): on this kernel (no CONFIG_IRQ_TIME_ACCOUNTING) it holds the sampling
 * interrupts and the BPF program that run on its CPU, and not the time it waits for a CPU, which
 * on a shared machine swamps a few per cent; wall time is printed too. Rounds interleave the
 * variants; the minimum of each is kept (interference only adds time), the median is printed too. Also measured: the CPU time of
 * the gadget session in this process, standing for the runner (attach, polls, collection,
 * symbolization; plus spawning the workload), and of the bpftrace process up to its exit (start-up,
 * compilation, printing its symbolized map), each for the whole variant.
 *
 * Usage: npm run bench:profile -- [--json] [--rounds 5] [--iterations 1000]
 * Prints one JSON line. Target: the workload slows down less than under bpftrace at the same frequency.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileBurn } from '../../bpf/gadgets/profile/profile-test-workload.ts';
import type { ProfileEvent } from '../../bpf/gadgets/profile/profile.ts';
import { buildGadgetObject, runInCgroup } from '../../bpf/src/gadget-test-fixture.ts';
import { GadgetSession } from '../../bpf/src/gadget-session.ts';
import { createTestCgroup, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';
import { kernelBenchArgs, median, sampleProcessCpu } from './bench-figures.ts';

const { rounds, counts, log } = kernelBenchArgs('profile', { iterations: '1000' });
const iterations = counts.iterations;

const FREQUENCIES = [49, 999] as const;
interface WorkloadTime {
  workloadMs: number;
  workloadWallMs: number;
}

async function timeWorkload(cgroup: TestCgroup, burn: string): Promise<WorkloadTime> {
  const r = await runInCgroup(cgroup, burn, ['work', String(iterations)]);
  if (r.code !== 0) throw new Error(`workload failed (${r.code}): ${r.stderr}`);
  const [wall, cpu] = r.stdout.trim().split(' ').map(Number);
  return { workloadMs: cpu! / 1e6, workloadWallMs: wall! / 1e6 };
}

interface VariantResult extends WorkloadTime {
  profilerCpuMs: number;
  samples: number;
  topUserFrame?: string;
}

async function underProfile(cgroup: TestCgroup, burn: string, hz: number): Promise<VariantResult> {
  const events: ProfileEvent[] = [];
  const cpu0 = process.cpuUsage();
  const session = await GadgetSession.start({
    gadget: 'profile',
    params: { frequencyHz: hz },
    cgroupIds: [cgroup.id],
    onEvents: (batch) => events.push(...(batch as ProfileEvent[])),
  });
  let time: WorkloadTime;
  try {
    time = await timeWorkload(cgroup, burn);
  } finally {
    session.stop();
  }
  const cpu = process.cpuUsage(cpu0);
  const leaf = new Map<string, number>();
  for (const e of events) {
    if (e.userFrames > 0) {
      const f = e.folded.split(';')[e.userFrames]!;
      leaf.set(f, (leaf.get(f) ?? 0) + e.samples);
    }
  }
  const top = [...leaf].sort((a, b) => b[1] - a[1])[0]?.[0];
  return {
    ...time,
    profilerCpuMs: (cpu.user + cpu.system) / 1000,
    samples: events.reduce((n, e) => n + e.samples, 0),
    ...(top ? { topUserFrame: top } : {}),
  };
}

async function underBpftrace(cgroup: TestCgroup, burn: string, hz: number): Promise<VariantResult> {
  const program = `profile:hz:${hz} /cgroup == cgroupid("${cgroup.path}")/ { @[ustack, kstack] = count(); }`;
  const child = spawn('bpftrace', ['-e', program], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (/Attaching \d+ probe/.test(out)) resolve();
    };
    child.stdout.on('data', check);
    child.on('close', (code) => reject(new Error(`bpftrace exited (${code}) before attaching: ${err.trim()}`)));
  });
  // Its CPU time up to its exit (the map printed and symbolized, like the session's collect):
  // the last reading of /proc/<pid>/stat, taken every 50 ms.
  const cpu = sampleProcessCpu(child.pid!);
  let cpuMs = 0;
  let time: WorkloadTime;
  try {
    time = await timeWorkload(cgroup, burn);
  } finally {
    // SIGTERM, not SIGINT: a shell's background job inherits SIGINT ignored. bpftrace prints its
    // map and exits; past 60 s (symbolizing) it is killed, the samples count is then unknown.
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(killer);
    cpuMs = cpu.stop();
  }
  const samples = [...out.matchAll(/\]: (\d+)\n/g)].reduce((n, m) => n + Number(m[1]), 0);
  return { ...time, profilerCpuMs: cpuMs, samples };
}

const workDir = mkdtempSync(join(tmpdir(), 'tracejob-bench-profile-'));
const cgroup = createTestCgroup(uniqueCgroupPath('profile-bench'));
try {
  buildGadgetObject('profile');
  const burn = compileBurn(join(workDir, 'burn'));
  type Variant = { name: string; run: () => Promise<VariantResult | WorkloadTime> };
  const variants: Variant[] = [{ name: 'baseline', run: () => timeWorkload(cgroup, burn) }];
  for (const hz of FREQUENCIES) {
    variants.push({ name: `profile-${hz}`, run: () => underProfile(cgroup, burn, hz) });
    variants.push({ name: `bpftrace-${hz}`, run: () => underBpftrace(cgroup, burn, hz) });
  }
  const results = new Map<string, VariantResult[]>(variants.map((v) => [v.name, []]));
  for (let round = 0; round < rounds; round += 1) {
    // rotate the order so no variant always runs first or last in a round
    for (let i = 0; i < variants.length; i += 1) {
      const v = variants[(i + round) % variants.length]!;
      const r = await v.run();
      const result: VariantResult = 'samples' in r ? r : { ...r, profilerCpuMs: 0, samples: 0 };
      results.get(v.name)!.push(result);
      log(`round ${round + 1}/${rounds} ${v.name}: workload CPU ${result.workloadMs.toFixed(1)} ms (wall ${result.workloadWallMs.toFixed(1)}), profiler CPU ${result.profilerCpuMs.toFixed(0)} ms, ${result.samples} samples`);
    }
  }
  const base = Math.min(...results.get('baseline')!.map((r) => r.workloadMs));
  const baseMedian = median(results.get('baseline')!.map((r) => r.workloadMs));
  const summarize = (name: string) => {
    const rs = results.get(name)!;
    const min = Math.min(...rs.map((r) => r.workloadMs));
    const med = median(rs.map((r) => r.workloadMs));
    const top = rs.map((r) => r.topUserFrame).filter(Boolean);
    return {
      workloadCpuMinMs: Number(min.toFixed(2)),
      workloadCpuMedianMs: Number(med.toFixed(2)),
      workloadWallMinMs: Number(Math.min(...rs.map((r) => r.workloadWallMs)).toFixed(2)),
      slowdownPct: Number((100 * (min / base - 1)).toFixed(2)),
      slowdownMedianPct: Number((100 * (med / baseMedian - 1)).toFixed(2)),
      profilerCpuMedianMs: Number(median(rs.map((r) => r.profilerCpuMs)).toFixed(1)),
      samplesMedian: median(rs.map((r) => r.samples)),
      ...(top.length ? { topUserFrame: top[0] } : {}),
    };
  };
  const byFrequency = FREQUENCIES.map((hz) => {
    const profile = summarize(`profile-${hz}`);
    const bpftrace = summarize(`bpftrace-${hz}`);
    return { frequencyHz: hz, profile, bpftrace, lessSlowdownThanBpftrace: profile.slowdownPct < bpftrace.slowdownPct };
  });
  console.log(
    JSON.stringify({
      bench: 'profile',
      iterations,
      rounds,
      metric: 'workload CPU time (CLOCK_PROCESS_CPUTIME_ID)',
      baselineCpuMinMs: Number(base.toFixed(2)),
      baselineCpuMedianMs: Number(baseMedian.toFixed(2)),
      baselineWallMinMs: Number(Math.min(...results.get('baseline')!.map((r) => r.workloadWallMs)).toFixed(2)),
      results: byFrequency,
      withinTarget: byFrequency.every((r) => r.lessSlowdownThanBpftrace),
    }),
  );
} finally {
  await cgroup.destroy();
  rmSync(workDir, { recursive: true, force: true });
}
