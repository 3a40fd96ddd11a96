/**
 * Does the real runner keep every event of a storm, and what does tracing cost the storm? A C load
 * generator (test/bench/storm-load.c) in a cgroup v2 directory of its own, pinned to one CPU, runs
 * one operation at full speed for a fixed time and counts its own operations. It is traced in turn
 * by:
 *   none          nothing attached: the storm's own rate;
 *   runner        the production runner, `tracejob-runner --gadget <g> --cgroup <dir>` (decode,
 *                 enrichment, events.ndjson, summary.json), stopped with SIGTERM after the storm;
 *   bpftrace      the same tracepoints (enter + exit), the cgroup filter, one printf line per event;
 *   libbpf-tools  `opensnoop -p PID` / `execsnoop -c <dir>`.
 * Tracers write to files in a temporary directory (nothing reads their output while they run).
 * `kept` = events / operations counted by the generator; `lost` = what the tracer itself counted
 * as lost (opensnoop/execsnoop on a ring buffer count nothing: their losses show in `kept` only).
 *
 * Usage: npm run bench:storm -- [--json] [--seconds 10] [--rounds 1] [--gadgets open,exec] [--cpu N]
 *        [--tracers none,runner,bpftrace,libbpf-tools]
 * With --rounds N the tracers take turns N times (the order rotating each round); on a shared
 * machine interference only slows a storm down, so a tracer's rate is its best round, and its
 * `kept` its worst round (events and lost are summed over the rounds).
 * Prints one JSON line per gadget and tracer, {gadget, tracer, opsPerSecond, events, lost, kept},
 * the runner's line also with maxRssBytes (its largest) and its wall time from the stop to the
 * written result; then one line
 * per gadget with the ratios (runner rate / reference rate) and the targets (kept ≥ 99.9 %, ≥ 2×
 * bpftrace, ≥ 1.3× libbpf-tools, RSS ≤ 128 MiB).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { buildGadgetObject } from '../../bpf/src/gadget-test-fixture.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';

const root = new URL('../..', import.meta.url).pathname;
const { values: opts } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '10' },
    gadgets: { type: 'string', default: 'open,exec' },
    tracers: { type: 'string', default: 'none,runner,bpftrace,libbpf-tools' },
    cpu: { type: 'string' },
    rounds: { type: 'string', default: '1' },
  },
});
const rounds = Number(opts.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${opts.rounds}`);
const seconds = Number(opts.seconds);
if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got ${opts.seconds}`);
const cpu = opts.cpu === undefined ? cpus().length - 1 : Number(opts.cpu);
if (!Number.isInteger(cpu) || cpu < 0 || cpu >= cpus().length) throw new Error(`--cpu must be a CPU number below ${cpus().length}`);
const TRACERS = ['none', 'runner', 'bpftrace', 'libbpf-tools'] as const;
type Tracer = (typeof TRACERS)[number];
const GADGETS = ['open', 'exec'] as const;
type StormGadget = (typeof GADGETS)[number];
const tracers = opts.tracers.split(',').map((t) => {
  if (!(TRACERS as readonly string[]).includes(t)) throw new Error(`--tracers: unknown tracer ${t}; known: ${TRACERS.join(', ')}`);
  return t as Tracer;
});
const gadgets = opts.gadgets.split(',').map((g) => {
  if (!(GADGETS as readonly string[]).includes(g)) throw new Error(`--gadgets: unknown gadget ${g}; known: ${GADGETS.join(', ')}`);
  return g as StormGadget;
});
const log = (msg: string): void => {
  if (!opts.json) console.error(msg);
};

const skip = kernelTestSkipReason();
if (skip) {
  console.log(JSON.stringify({ bench: 'storm', skipped: skip }));
  process.exit(0);
}
for (const [tool, path] of [
  ['bpftrace', '/usr/bin/bpftrace'],
  ['libbpf-tools', '/usr/sbin/opensnoop'],
] as const) {
  if (tracers.includes(tool) && !existsSync(path)) throw new Error(`${path} is missing: install it with bash scripts/setup.sh --for-tests`);
}

const workDir = mkdtempSync(join(tmpdir(), 'tracejob-bench-storm-'));
const loadBin = join(workDir, 'storm-load');
const exitBin = join(workDir, 'storm-exit');
execFileSync('cc', ['-O2', '-o', loadBin, join(root, 'test/bench/storm-load.c')], { stdio: 'inherit' });
execFileSync('cc', ['-O2', '-static', '-o', exitBin, join(root, 'test/bench/storm-exit.c')], { stdio: 'inherit' });
const openTarget = join(workDir, 'storm-open-target');
writeFileSync(openTarget, 'x');
for (const g of gadgets) buildGadgetObject(g);
if (tracers.includes('runner')) ensureBuiltRunner();

/** The runner as production runs it (dist/), rebuilt when a source is newer than the build. */
function ensureBuiltRunner(): void {
  const built = join(root, 'dist/job-image/src/cli.js');
  const newest = (dir: string): number => {
    let t = 0;
    for (const entry of readdirSync(join(root, dir), { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) t = Math.max(t, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
    return t;
  };
  const sources = Math.max(...['contracts', 'bpf/src', 'bpf/gadgets', 'bpf/native', 'job-image/src'].map(newest));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  log('storm: dist/ is older than the sources; npm run build:ts');
  execFileSync('npm', ['run', '-s', 'build:ts'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

interface Trial {
  gadget: StormGadget;
  tracer: Tracer;
  opsPerSecond: number;
  events: number;
  lost: number;
  kept: number;
  ops: number;
  seconds: number;
  maxRssBytes?: number;
  resultWrittenAfterMs?: number;
}

function waitForLine(stream: NodeJS.ReadableStream, match: (line: string) => boolean, what: string, child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (match(line)) {
          stream.off('data', onData);
          child.off('exit', onExit);
          resolve(line);
          return;
        }
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`${what}: exited (${code}) before it was ready`));
    stream.on('data', onData);
    child.once('exit', onExit);
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** The tracer's main thread sits in epoll_wait: it attached its programs and polls its buffer. */
async function waitUntilPolling(pid: number, what: string, child: ChildProcess): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}) before it was ready`);
    let wchan = '';
    try {
      wchan = readFileSync(`/proc/${pid}/wchan`, 'utf8');
    } catch {
      /* not started yet */
    }
    if (wchan.includes('epoll_wait') && countLinks(pid) > 0) return;
    await sleep(20);
  }
}

function countLinks(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).includes('bpf_link')) n += 1;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

async function countLines(path: string, marker: string): Promise<number> {
  let n = 0;
  let tail = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const lines = (tail + (chunk as string)).split('\n');
    tail = lines.pop() ?? '';
    for (const line of lines) if (line.includes(marker)) n += 1;
  }
  if (tail.includes(marker)) n += 1;
  return n;
}

function bpftraceScript(gadget: StormGadget, cgroupPath: string): string {
  const filter = `/cgroup == cgroupid("${cgroupPath}")/`;
  if (gadget === 'open') {
    return [
      'BEGIN { printf("ready\\n"); }',
      `tracepoint:syscalls:sys_enter_open, tracepoint:syscalls:sys_enter_openat, tracepoint:syscalls:sys_enter_openat2 ${filter} { @path[tid] = args->filename; }`,
      'tracepoint:syscalls:sys_exit_open, tracepoint:syscalls:sys_exit_openat, tracepoint:syscalls:sys_exit_openat2 /@path[tid]/ {',
      '  printf("%d %d %s %d %s\\n", nsecs, pid, comm, args->ret, str(@path[tid])); delete(@path[tid]); }',
    ].join('\n');
  }
  return [
    'BEGIN { printf("ready\\n"); }',
    `tracepoint:syscalls:sys_enter_execve, tracepoint:syscalls:sys_enter_execveat ${filter} { @file[tid] = str(args->filename); }`,
    'tracepoint:syscalls:sys_exit_execve, tracepoint:syscalls:sys_exit_execveat /@file[tid] != ""/ {',
    '  printf("%d %d %s %d %s\\n", nsecs, pid, comm, args->ret, @file[tid]); delete(@file[tid]); }',
  ].join('\n');
}

async function trial(gadget: StormGadget, tracer: Tracer, cgroup: TestCgroup): Promise<Trial> {
  const dir = join(workDir, `${gadget}-${tracer}`);
  mkdirSync(dir);
  const arg = gadget === 'open' ? openTarget : exitBin;
  const marker = gadget === 'open' ? 'storm-open-target' : 'storm-exit';
  const load = spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup.path, loadBin, gadget, String(seconds), String(cpu), arg], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let loadOut = '';
  const ready = waitForLine(load.stdout!, (l) => l === 'ready', 'storm-load', load);
  load.stdout!.on('data', (d: Buffer) => (loadOut += d.toString()));
  await ready;
  const pid = load.pid!;

  let tracerProc: ChildProcess | undefined;
  let stopSignal: NodeJS.Signals = 'SIGINT';
  const outPath = join(dir, 'stdout');
  const errPath = join(dir, 'stderr');
  let runnerStderr = '';
  if (tracer === 'runner') {
    stopSignal = 'SIGTERM';
    tracerProc = spawn(
      process.execPath,
      [
        join(root, 'bin/tracejob-runner.js'),
        '--gadget',
        gadget,
        '--cgroup',
        cgroup.path,
        '--duration',
        `${Math.ceil(seconds) + 600}s`,
        '--max-events',
        '1000000000',
        '--rescan-interval',
        '0',
        '--out',
        join(dir, 'out'),
        '--trace-id',
        `storm-${gadget}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TRACEJOB_FROM_SOURCE: '0', NODE_OPTIONS: process.env.STORM_NODE_OPTIONS ?? '' } },
    );
    tracerProc.stderr!.on('data', (d: Buffer) => (runnerStderr += d.toString()));
    await waitForLine(tracerProc.stderr!, (l) => l.includes('"step":"session"') && l.includes('tracing '), 'tracejob-runner', tracerProc);
  } else if (tracer === 'bpftrace') {
    const out = openSync(outPath, 'w');
    tracerProc = spawn('/usr/bin/bpftrace', ['-e', bpftraceScript(gadget, cgroup.path)], { stdio: ['ignore', out, 'pipe'] });
    closeSync(out);
    let err = '';
    tracerProc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    tracerProc.once('exit', () => writeFileSync(errPath, err));
    for (;;) {
      if (tracerProc.exitCode !== null) throw new Error(`bpftrace exited (${tracerProc.exitCode}): ${err}`);
      if (readFileSync(outPath, 'utf8').includes('ready\n')) break;
      await sleep(20);
    }
  } else if (tracer === 'libbpf-tools') {
    const out = openSync(outPath, 'w');
    const args = gadget === 'open' ? ['/usr/sbin/opensnoop', '-p', String(pid)] : ['/usr/sbin/execsnoop', '-c', cgroup.path];
    tracerProc = spawn(args[0]!, args.slice(1), { stdio: ['ignore', out, 'pipe'] });
    closeSync(out);
    let err = '';
    tracerProc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    tracerProc.once('exit', () => writeFileSync(errPath, err));
    await waitUntilPolling(tracerProc.pid!, args[0]!, tracerProc);
  }

  const loadDone = exited(load);
  load.stdin!.end('go\n');
  const code = await loadDone;
  if (code !== 0) throw new Error(`storm-load ${gadget} exited with ${code}`);
  const counted = JSON.parse(loadOut.trim().split('\n').pop()!) as { ops: number; seconds: number };

  let events = 0;
  let lost = 0;
  const extra: Partial<Trial> = {};
  if (tracerProc) {
    const stopAt = Date.now();
    const done = exited(tracerProc);
    tracerProc.kill(stopSignal);
    await done;
    if (tracer === 'runner') {
      extra.resultWrittenAfterMs = Date.now() - stopAt;
      const summary = JSON.parse(readFileSync(join(dir, 'out', 'summary.json'), 'utf8')) as { events: number; lostEvents: number };
      const lines = await countLines(join(dir, 'out', 'events.ndjson'), marker);
      if (lines !== summary.events) throw new Error(`runner: summary says ${summary.events} events, events.ndjson holds ${lines} storm events`);
      events = summary.events;
      lost = summary.lostEvents;
      for (const line of runnerStderr.split('\n')) {
        if (!line.includes('"step":"exit"')) continue;
        const rss = (JSON.parse(line) as { maxRssBytes?: number }).maxRssBytes;
        if (rss !== undefined) extra.maxRssBytes = rss;
      }
    } else {
      events = await countLines(outPath, marker);
      const err = existsSync(errPath) ? readFileSync(errPath, 'utf8') + readFileSync(outPath, 'utf8').slice(-4096) : '';
      for (const m of err.matchAll(/Lost (\d+) events/gi)) lost += Number(m[1]);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return {
    gadget,
    tracer,
    opsPerSecond: Math.round(counted.ops / counted.seconds),
    events: tracer === 'none' ? 0 : events,
    lost,
    kept: tracer === 'none' ? 0 : Number((events / counted.ops).toFixed(5)),
    ops: counted.ops,
    seconds: counted.seconds,
    ...extra,
  };
}

const cgroup = createTestCgroup(uniqueCgroupPath('storm'));
const results: Trial[] = [];
try {
  for (const gadget of gadgets) {
    const trials = new Map<Tracer, Trial[]>();
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < tracers.length; i++) {
        const tracer = tracers[(i + r) % tracers.length]!;
        const t = await trial(gadget, tracer, cgroup);
        trials.set(tracer, [...(trials.get(tracer) ?? []), t]);
        log(`${gadget} ${tracer} (round ${r + 1}): ${t.opsPerSecond} ops/s, ${t.events} events, ${t.lost} lost, kept ${(t.kept * 100).toFixed(2)} %`);
      }
    }
    const byTracer = new Map<Tracer, Trial>();
    for (const tracer of tracers) {
      const all = trials.get(tracer)!;
      const best = all.reduce((a, b) => (b.opsPerSecond > a.opsPerSecond ? b : a));
      const t: Trial & { rounds: number; opsPerSecondPerRound: number[] } = {
        gadget,
        tracer,
        opsPerSecond: best.opsPerSecond,
        events: all.reduce((n, x) => n + x.events, 0),
        lost: all.reduce((n, x) => n + x.lost, 0),
        kept: Math.min(...all.map((x) => x.kept)),
        ops: all.reduce((n, x) => n + x.ops, 0),
        seconds: Number(all.reduce((n, x) => n + x.seconds, 0).toFixed(3)),
        rounds: all.length,
        opsPerSecondPerRound: all.map((x) => x.opsPerSecond),
      };
      const rss = all.map((x) => x.maxRssBytes).filter((x): x is number => x !== undefined);
      if (rss.length > 0) t.maxRssBytes = Math.max(...rss);
      const written = all.map((x) => x.resultWrittenAfterMs).filter((x): x is number => x !== undefined);
      if (written.length > 0) t.resultWrittenAfterMs = Math.max(...written);
      byTracer.set(tracer, t);
      results.push(t);
      console.log(JSON.stringify(t));
    }
    const runner = byTracer.get('runner');
    if (runner) {
      const ratio = (ref?: Trial): number | null => (ref ? Number((runner.opsPerSecond / ref.opsPerSecond).toFixed(3)) : null);
      const vsBpftrace = ratio(byTracer.get('bpftrace'));
      const vsLibbpfTools = ratio(byTracer.get('libbpf-tools'));
      const verdict = {
        bench: 'storm',
        gadget,
        seconds,
        rounds,
        cpu,
        runnerKept: runner.kept,
        runnerRateVsNone: ratio(byTracer.get('none')),
        runnerRateVsBpftrace: vsBpftrace,
        runnerRateVsLibbpfTools: vsLibbpfTools,
        runnerMaxRssBytes: runner.maxRssBytes ?? null,
        targets: { kept: 0.999, vsBpftrace: 2, vsLibbpfTools: 1.3, maxRssBytes: 128 << 20 },
        withinTarget:
          runner.kept >= 0.999 &&
          (vsBpftrace === null || vsBpftrace >= 2) &&
          (vsLibbpfTools === null || vsLibbpfTools >= 1.3) &&
          (runner.maxRssBytes === undefined || runner.maxRssBytes <= 128 << 20),
      };
      console.log(JSON.stringify(verdict));
    }
  }
} finally {
  await cgroup.destroy();
  rmSync(workDir, { recursive: true, force: true });
}
