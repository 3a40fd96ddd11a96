/**
 * Telling a live process from a recycled pid: a pid plus its start time (field 22 of
 * /proc/<pid>/stat, in clock ticks since boot) names one process for good.
 */
import { readFileSync } from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  startTicks: string;
}

export function processStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const afterComm = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // afterComm[0] is field 3 (state); field 22 is index 19. A zombie has ended.
    if (afterComm[0] === 'Z') return undefined;
    return afterComm[19];
  } catch {
    return undefined;
  }
}

/** True while the process that had this identity is alive. */
export function isAlive(id: ProcessIdentity): boolean {
  return processStartTicks(id.pid) === id.startTicks;
}
