/**
 * Runs the real `tracejob-runner` CLI (bin/tracejob-runner.js) as a child process for tests, and
 * reads what it leaves: its JSON log lines on stderr, events.ndjson and summary.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeSummary, TraceEvent } from '../contracts/index.ts';

const root = new URL('..', import.meta.url).pathname;
export const RUNNER_BIN = join(root, 'bin', 'tracejob-runner.js');

export interface RunnerChild {
  child: ChildProcess;
  /** Parsed JSON log lines so far (non-JSON stderr lines are kept as { raw }). */
  logs: Record<string, unknown>[];
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
  /** Resolves with the first log line whose `step` is `step` (rejects if the runner exits first). */
  waitForStep(step: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Always the TypeScript source (TRACEJOB_FROM_SOURCE=1), never a possibly stale dist/. `prefix`: a command that execs the rest (e.g. `unshare --mount … sh -c '…; exec "$0" "$@"'`). */
export function startRunner(args: string[], env: Record<string, string> = {}, prefix: string[] = []): RunnerChild {
  const started = Date.now();
  const argv = [...prefix, process.execPath, RUNNER_BIN, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TRACEJOB_FROM_SOURCE: '1', ...env } });
  const logs: Record<string, unknown>[] = [];
  let text = '';
  let partial = '';
  const waiters: { step: string; resolve: (l: Record<string, unknown>) => void }[] = [];
  child.stderr!.on('data', (d: Buffer) => {
    text += d.toString();
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        entry = { raw: line };
      }
      logs.push(entry);
      for (const w of waiters.filter((x) => x.step === entry.step)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(entry);
      }
    }
  });
  child.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, ms: Date.now() - started })),
  );
  return {
    child,
    logs,
    stderr: () => text,
    exited,
    waitForStep(step, timeoutMs = 30_000) {
      const seen = logs.find((l) => l.step === step);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`runner logged no '${step}' step within ${timeoutMs} ms; stderr:\n${text}`)), timeoutMs);
        waiters.push({ step, resolve: (l) => (clearTimeout(timer), resolve(l)) });
        void exited.then(({ code }) => {
          clearTimeout(timer);
          reject(new Error(`runner exited (${code}) before step '${step}'; stderr:\n${text}`));
        });
      });
    },
  };
}

export function readEvents(outDir: string): TraceEvent[] {
  const path = join(outDir, 'events.ndjson');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TraceEvent);
}

export function readSummary(outDir: string): NodeSummary {
  return JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')) as NodeSummary;
}
