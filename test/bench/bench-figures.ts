/**
 * What the benchmarks that time a workload against a reference tracer share: their command line,
 * medians and a process's CPU time.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { kernelTestSkipReason } from '../support/cgroups.ts';

const TICKS_PER_SECOND = 100; // USER_HZ of /proc/<pid>/stat

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** utime + stime of a live process, ms. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/**
 * A reference tracer's CPU time up to its exit: /proc/<pid>/stat is read every 50 ms (it is gone
 * once the process is reaped), so `stop()` gives the last reading taken while it lived.
 */
export function sampleProcessCpu(pid: number): { stop(): number } {
  let cpuMs = 0;
  const sampler = setInterval(() => {
    try {
      cpuMs = processCpuMs(pid);
    } catch {
      // gone
    }
  }, 50);
  return {
    stop() {
      clearInterval(sampler);
      return cpuMs;
    },
  };
}

export interface KernelBenchArgs<K extends string> {
  json: boolean;
  rounds: number;
  /** The bench's own counts (e.g. --requests), each a positive number. */
  counts: Record<K, number>;
  /** Progress for a person: quiet under --json. */
  log(msg: string): void;
}

/**
 * The start of a benchmark that needs the kernel tests' rights: `--json`, `--rounds N` and the
 * bench's own counts (`defaults`: flag name → default), refused unless positive; prints a JSON skip
 * line and exits 0 when the kernel tests cannot run here.
 */
export function kernelBenchArgs<K extends string>(bench: string, defaults: Record<K, string>): KernelBenchArgs<K> {
  const options: Record<string, { type: 'string' | 'boolean'; default: string | boolean }> = { json: { type: 'boolean', default: false }, rounds: { type: 'string', default: '5' } };
  for (const [name, value] of Object.entries<string>(defaults)) options[name] = { type: 'string', default: value };
  const { values } = parseArgs({ options });
  const counts = {} as Record<K, number>;
  for (const name of ['rounds', ...Object.keys(defaults)]) {
    const n = Number(values[name]);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number, got ${JSON.stringify(values[name])}`);
    if (name !== 'rounds') counts[name as K] = n;
  }
  const json = values.json === true;
  const skip = kernelTestSkipReason();
  if (skip) {
    console.log(JSON.stringify({ bench, skipped: skip }));
    process.exit(0);
  }
  return { json, rounds: Number(values.rounds), counts, log: (msg) => void (json || console.error(msg)) };
}
