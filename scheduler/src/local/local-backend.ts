/**
 * The local backend: runners are child processes on this machine (`tracejob-runner --spec FILE
 * --out DIR`), one per (trace, node) — here a single node. Cancel is forwarded as SIGUSR1; a runner
 * still alive at deadline + grace gets SIGTERM, then SIGKILL.
 *
 * Never two runners for one (trace, node) at once: a Redis key `tj:runner:<trace>:<node>` holds the
 * runner's pid and start time. Runners are started detached (own process group, output to a file)
 * so they outlive a scheduler that dies; the scheduler that takes the trace over finds the key and
 * adopts the live runner (waits for it, forwards cancel, enforces the deadline) instead of starting
 * another.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RUNNER_EXIT, runnerBudgetSeconds, type NodeJobSpec, type TraceTarget } from '../../../contracts/index.ts';
import type { NodeOutcome, NodePlan, RunContext, RunnerBackend } from '../backend.ts';
import { checkLocalTarget, findCgroupV2Root, resolveLocalTargets } from './local-targets.ts';
import { isAlive, processStartTicks, type ProcessIdentity } from './process-identity.ts';
import { untilRunnerHandlesSignals } from './runner-readiness.ts';

export interface LocalBackendOptions {
  redis: Redis;
  nodeName: string;
  /** Runner working directories go to `<dataDir>/runs/<trace>/<node>/`. */
  dataDir: string;
  /** argv prefix of the runner; `--spec FILE --out DIR` is appended. */
  runnerCommand: readonly string[];
  graceSeconds: number;
  logger: Logger;
  cgroupRoot?: string;
  /** Seconds between SIGTERM and SIGKILL of a runner past its deadline. */
  killAfterSeconds?: number;
  /**
   * Keep one runner started ahead (`--await-job`: node started, modules and addon loaded) and hand
   * it the next job, so a trace does not wait for a process start (RUNNER_PREWARM).
   */
  prewarm?: boolean;
}

/** A runner started ahead of its job, waiting on stdin (see job-image/src/cli.ts, --await-job). */
interface WarmRunner {
  child: ChildProcess;
  logFile: string;
  exited: Promise<{ code: number | null; signal: string | null }>;
}

type RunnerLock =
  | { state: 'starting'; host: string; at: number }
  | { state: 'running'; host: string; pid: number; startTicks: string; deadlineAt: number }
  | { state: 'exited'; host: string; code: number | null; signal: string | null; cancelled: boolean };

const START_TIMEOUT_MS = 30_000;

function outcomeOf(node: string, code: number | null, signal: string | null, cancelled: boolean, logFile?: string): NodeOutcome {
  if (cancelled && (code === RUNNER_EXIT.ok || signal === 'SIGUSR1')) return { node, status: 'cancelled', exitCode: code ?? undefined };
  if (code === RUNNER_EXIT.ok) return { node, status: 'succeeded', exitCode: 0 };
  if (cancelled) return { node, status: 'cancelled', exitCode: code ?? undefined };
  const tail = logFile ? failureReasonFromLog(logFile) : '';
  const why =
    code === RUNNER_EXIT.noTargets
      ? 'none of the targets was found on this node'
      : code === RUNNER_EXIT.uploadFailed
        ? 'the runner could not upload its result'
        : code === RUNNER_EXIT.usage
          ? 'the runner refused its job spec'
          : code === null
            ? `the runner was killed by ${signal ?? 'a signal'}`
            : `the runner failed (exit ${code})`;
  const outcome: NodeOutcome = { node, status: 'failed', error: tail ? `${why}: ${tail}` : why };
  if (code !== null) outcome.exitCode = code;
  return outcome;
}

/**
 * Why a runner failed, from its log: the last error it logged (pino JSON, level >= 50), else the
 * first line of an uncaught exception (`Error: Cannot find module …`), else its last lines.
 */
export function failureReasonFromLog(file: string, max = 400): string {
  let lines: string[];
  try {
    lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
  } catch {
    return '';
  }
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    const line = lines[i]!;
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
      if ((entry.level ?? 0) >= 50) return [entry.msg, entry.err?.message].filter(Boolean).join(': ').slice(0, max);
    } catch {
      /* not JSON */
    }
  }
  const exception = lines.find((l) => /^\w*Error(\s\[\w+\])?: /.test(l.trim()));
  if (exception) return exception.trim().slice(0, max);
  return lines.slice(-3).join(' | ').slice(-max);
}

export class LocalBackend implements RunnerBackend {
  readonly kind = 'local' as const;
  private readonly host = hostname();
  private readonly cgroupRoot: string | undefined;
  private warm: WarmRunner | undefined;
  private closed = false;

  constructor(private readonly opts: LocalBackendOptions) {
    this.cgroupRoot = opts.cgroupRoot ?? findCgroupV2Root();
    if (opts.prewarm) this.warm = this.startWarmRunner();
  }

  /** Its log goes to `<dataDir>/warm-runners/` until it gets a job, then moves into the run's directory. */
  private startWarmRunner(): WarmRunner | undefined {
    if (this.closed) return undefined;
    const dir = join(this.opts.dataDir, 'warm-runners');
    mkdirSync(dir, { recursive: true });
    const logFile = join(dir, `${randomUUID()}.log`);
    // stdin is a pipe from this scheduler: if it dies, the waiting runner reads EOF and exits.
    const { child, exited } = this.startRunner(logFile, ['--await-job'], this.opts.logger, 'pipe');
    child.stdin!.on('error', () => undefined);
    void exited.then(() => {
      if (this.warm?.child === child) this.warm = undefined;
      void rm(logFile, { force: true });
    });
    return { child, logFile, exited };
  }

  /** The warm runner, if one is waiting; a new one is started for the next job. */
  private takeWarmRunner(): WarmRunner | undefined {
    const warm = this.warm;
    if (!warm || warm.child.exitCode !== null || warm.child.signalCode !== null || warm.child.pid === undefined) return undefined;
    this.warm = this.startWarmRunner();
    return warm;
  }

  /** What the API can check at POST time: cgroup paths and pids that do not exist. */
  async checkTarget(target: TraceTarget): Promise<void> {
    checkLocalTarget(target, this.cgroupRoot);
  }

  async resolveTargets(target: TraceTarget): Promise<NodePlan[]> {
    checkLocalTarget(target, this.cgroupRoot);
    return resolveLocalTargets(target, this.opts.nodeName);
  }

  run(jobs: NodeJobSpec[], ctx: RunContext): Promise<NodeOutcome[]> {
    return Promise.all(jobs.map((job) => this.runNode(job, ctx)));
  }

  private lockKey(job: NodeJobSpec): string {
    return `tj:runner:${job.traceId}:${job.node}`;
  }

  private runDir(traceId: string, node: string): string {
    return join(this.opts.dataDir, 'runs', traceId, node);
  }

  private lockTtlSeconds(job: NodeJobSpec): number {
    return runnerBudgetSeconds(job) + this.opts.graceSeconds + 3600;
  }

  private async readLock(job: NodeJobSpec): Promise<RunnerLock | undefined> {
    const raw = await this.opts.redis.get(this.lockKey(job));
    return raw ? (JSON.parse(raw) as RunnerLock) : undefined;
  }

  private async writeLock(job: NodeJobSpec, lock: RunnerLock): Promise<void> {
    await this.opts.redis.set(this.lockKey(job), JSON.stringify(lock), 'EX', this.lockTtlSeconds(job));
  }

  private async runNode(job: NodeJobSpec, ctx: RunContext): Promise<NodeOutcome> {
    const log = this.opts.logger.child({ traceId: job.traceId, node: job.node });
    const starting: RunnerLock = { state: 'starting', host: this.host, at: Date.now() };
    for (;;) {
      const took = await this.opts.redis.set(this.lockKey(job), JSON.stringify(starting), 'EX', this.lockTtlSeconds(job), 'NX');
      if (took === 'OK') break;
      const lock = await this.readLock(job);
      if (!lock) continue;
      if (lock.state === 'exited') {
        log.info({ code: lock.code }, 'runner already ended (earlier scheduler)');
        return outcomeOf(job.node, lock.code, lock.signal, lock.cancelled || ctx.signal.aborted, join(this.runDir(job.traceId, job.node), 'runner.log'));
      }
      if (lock.state === 'running' && lock.host === this.host) {
        log.info({ pid: lock.pid }, 'adopting the live runner of an earlier scheduler');
        return this.adopt(job, lock, ctx);
      }
      if (lock.state === 'starting' && Date.now() - lock.at > START_TIMEOUT_MS) {
        log.warn('an earlier scheduler died while starting the runner: starting it now');
        await this.opts.redis.del(this.lockKey(job));
        continue;
      }
      await sleep(200);
    }
    if (ctx.signal.aborted) {
      await this.writeLock(job, { state: 'exited', host: this.host, code: null, signal: null, cancelled: true });
      return { node: job.node, status: 'cancelled', error: 'cancelled before the runner started' };
    }
    return this.start(job, ctx);
  }

  private async start(job: NodeJobSpec, ctx: RunContext): Promise<NodeOutcome> {
    const log = this.opts.logger.child({ traceId: job.traceId, node: job.node });
    const dir = this.runDir(job.traceId, job.node);
    const out = join(dir, 'out');
    await mkdir(out, { recursive: true });
    const specFile = join(dir, 'spec.json');
    await writeFile(specFile, JSON.stringify(job, null, 2), { mode: 0o600 });
    const logFile = join(dir, 'runner.log');
    const jobArgv = ['--spec', specFile, '--out', out];
    const { child, exited } = (await this.handWarmRunner(logFile, jobArgv)) ?? this.startRunner(logFile, jobArgv, log);
    const pid = child.pid;
    const deadlineAt = Date.now() + (runnerBudgetSeconds(job) + this.opts.graceSeconds) * 1000;
    if (pid !== undefined) {
      const startTicks = processStartTicks(pid) ?? '';
      await this.writeLock(job, { state: 'running', host: this.host, pid, startTicks, deadlineAt });
      await writeFile(join(dir, 'runner.pid'), JSON.stringify({ pid, startTicks }));
      await appendFile(join(dir, 'starts.log'), `${new Date().toISOString()} pid=${pid} scheduler=${process.pid}\n`);
      log.info({ pid, command: [...this.opts.runnerCommand, '--spec', specFile, '--out', out].join(' ') }, 'runner started');
      ctx.onNodeRunning(job.node);
    }
    const stopTimers = this.superviseSignals(pid, deadlineAt, ctx, log);
    const { code, signal } = await exited;
    stopTimers();
    const cancelled = ctx.signal.aborted;
    await this.writeLock(job, { state: 'exited', host: this.host, code, signal, cancelled });
    log.info({ code, signal, cancelled }, 'runner exited');
    return outcomeOf(job.node, code, signal, cancelled, logFile);
  }

  /** Starts the runner command with `args`, its output appended to `logFile`; `stdin` 'pipe' for a warm runner. */
  private startRunner(logFile: string, args: string[], log: Logger, stdin: 'ignore' | 'pipe' = 'ignore'): { child: ChildProcess; exited: WarmRunner['exited'] } {
    const fd = openSync(logFile, 'a');
    const [cmd, ...prefix] = this.opts.runnerCommand;
    const child = spawn(cmd!, [...prefix, ...args], { detached: true, stdio: [stdin, fd, fd] });
    closeSync(fd);
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (err) => {
        log.error({ err }, 'could not start the runner');
        resolve({ code: RUNNER_EXIT.failure, signal: null });
      });
    });
    return { child, exited };
  }

  /** Gives the job to the warm runner (its log moves to `logFile`); undefined when none is waiting. */
  private async handWarmRunner(logFile: string, jobArgv: string[]): Promise<{ child: ChildProcess; exited: WarmRunner['exited'] } | undefined> {
    const warm = this.takeWarmRunner();
    if (!warm) return undefined;
    try {
      // Same filesystem (both under DATA_DIR): the runner keeps writing to the file under its new name.
      await rename(warm.logFile, logFile);
      await new Promise<void>((resolve, reject) => warm.child.stdin!.end(`${JSON.stringify(jobArgv)}\n`, (err?: Error | null) => (err ? reject(err) : resolve())));
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'the warm runner could not take the job: starting one');
      warm.child.kill('SIGKILL');
      return undefined;
    }
    return { child: warm.child, exited: warm.exited };
  }

  /** Forwards cancel as SIGUSR1; SIGTERM at the deadline, SIGKILL a while later. Returns a stop function. */
  private superviseSignals(pid: number | undefined, deadlineAt: number, ctx: RunContext, log: Logger): () => void {
    if (pid === undefined) return () => undefined;
    // SIGKILL needs no handler; the others wait until the runner handles them (runner-readiness.ts).
    const send = (sig: NodeJS.Signals) => {
      const deliver = () => {
        try {
          process.kill(pid, sig);
        } catch {
          /* already gone */
        }
      };
      if (sig === 'SIGKILL') deliver();
      else void untilRunnerHandlesSignals(pid, 30_000).then(deliver);
    };
    const onAbort = () => {
      log.info({ pid }, 'forwarding cancel to the runner (SIGUSR1)');
      send('SIGUSR1');
    };
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
    const killAfter = (this.opts.killAfterSeconds ?? 5) * 1000;
    const term = setTimeout(() => {
      log.warn({ pid }, 'runner past its deadline: SIGTERM');
      send('SIGTERM');
    }, Math.max(0, deadlineAt - Date.now()));
    const kill = setTimeout(() => {
      log.warn({ pid }, 'runner ignored SIGTERM: SIGKILL');
      send('SIGKILL');
    }, Math.max(0, deadlineAt - Date.now()) + killAfter);
    return () => {
      clearTimeout(term);
      clearTimeout(kill);
      ctx.signal.removeEventListener('abort', onAbort);
    };
  }

  private async adopt(job: NodeJobSpec, lock: Extract<RunnerLock, { state: 'running' }>, ctx: RunContext): Promise<NodeOutcome> {
    const log = this.opts.logger.child({ traceId: job.traceId, node: job.node });
    const id: ProcessIdentity = { pid: lock.pid, startTicks: lock.startTicks };
    if (isAlive(id)) ctx.onNodeRunning(job.node);
    const stopTimers = this.superviseSignals(lock.pid, lock.deadlineAt, ctx, log);
    while (isAlive(id)) await sleep(200);
    stopTimers();
    const cancelled = ctx.signal.aborted;
    // The exit code went to the dead scheduler; the uploaded result tells how it went.
    await this.writeLock(job, { state: 'exited', host: this.host, code: RUNNER_EXIT.ok, signal: null, cancelled });
    log.info({ pid: lock.pid }, 'adopted runner exited');
    return cancelled ? { node: job.node, status: 'cancelled' } : { node: job.node, status: 'succeeded' };
  }

  /** Kills runners and removes working directories of traces not in `activeTraceIds`. */
  async sweep(activeTraceIds: ReadonlySet<string>): Promise<number> {
    const runs = join(this.opts.dataDir, 'runs');
    let traceDirs: string[];
    try {
      traceDirs = await readdir(runs);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const traceId of traceDirs) {
      if (activeTraceIds.has(traceId)) continue;
      let nodes: string[] = [];
      try {
        nodes = await readdir(join(runs, traceId));
      } catch {
        /* gone */
      }
      for (const node of nodes) {
        try {
          const id = JSON.parse(readFileSync(join(runs, traceId, node, 'runner.pid'), 'utf8')) as ProcessIdentity;
          if (isAlive(id)) {
            this.opts.logger.warn({ traceId, node, pid: id.pid }, 'sweep: killing a leftover runner');
            process.kill(id.pid, 'SIGKILL');
          }
        } catch {
          /* no pid file or already gone */
        }
      }
      await rm(join(runs, traceId), { recursive: true, force: true });
      removed += 1;
    }
    return removed;
  }

  async close(): Promise<void> {
    // Runners with a job are left to finish (a scheduler that takes over adopts them); the warm
    // one has none and goes.
    this.closed = true;
    const warm = this.warm;
    this.warm = undefined;
    if (warm) {
      warm.child.kill('SIGKILL');
      await warm.exited;
    }
  }
}
