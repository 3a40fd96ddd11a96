/**
 * Whether a runner process handles signals yet. A runner is a node process: until its launcher's
 * first lines install its handlers (tens to hundreds of milliseconds after exec, longer on a busy
 * machine), SIGTERM would kill it outright and SIGUSR1 would open node's inspector. node's own
 * handlers (it catches SIGTERM to restore the terminal, SIGUSR1 for the inspector) make the
 * kernel's SigCgt mask useless here, so the launcher marks the moment itself: right after its
 * handlers are in place it names its main thread RUNNER_PROCESS_NAME (/proc/<pid>/comm).
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { RUNNER_PROCESS_NAME } from '../../../contracts/index.ts';

/** true: the runner handles signals; false: not yet; undefined: no such process (or a zombie). */
export function runnerHandlesSignals(pid: number): boolean | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // pid (comm) state …: comm may hold spaces and parentheses, so split at the last ')'.
  const close = stat.lastIndexOf(')');
  if (stat.slice(close + 2, close + 3) === 'Z') return undefined;
  return stat.slice(stat.indexOf('(') + 1, close) === RUNNER_PROCESS_NAME;
}

/** Resolves true once the runner handles signals, false when it is gone or `timeoutMs` passed. */
export async function untilRunnerHandlesSignals(pid: number, timeoutMs: number, pollMs = 10): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const ready = runnerHandlesSignals(pid);
    if (ready === undefined) return false;
    if (ready) return true;
    if (Date.now() >= end) return false;
    await sleep(pollMs);
  }
}
