/**
 * For the profile tests and benchmark: compile testdata/burn.c (symbols, frame pointers) and run it
 * in a cgroup, waiting for its "ready" line (the loop is running) rather than for a time.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { TestCgroup } from '../../../test/support/cgroups.ts';

export const BURN_SOURCE = join(import.meta.dirname, 'testdata', 'burn.c');

/** Compiles burn.c to `out` with -O1 -g -fno-omit-frame-pointer. */
export function compileBurn(out: string): string {
  execFileSync('cc', ['-O1', '-g', '-fno-omit-frame-pointer', '-o', out, BURN_SOURCE], { stdio: 'inherit' });
  return out;
}

export interface RunningWorkload {
  child: ChildProcess;
  pid: number;
  /** The last line it printed at exit (iterations per second for `burn <s>`, ns for `burn work <n>`). */
  result: Promise<string>;
}

/** Resolves once `child` printed "ready"; `result` resolves with its last line when it exits 0. */
export function whenReady(child: ChildProcess, what: string): Promise<RunningWorkload> {
  return new Promise((resolve, reject) => {
    let out = '';
    let ready = false;
    let stderr = '';
    const result = new Promise<string>((res, rej) => {
      child.on('close', (code) => {
        const lines = out.trim().split('\n');
        if (code === 0) res(lines[lines.length - 1] ?? '');
        else rej(new Error(`${what} exited with ${code}: ${stderr.trim()}`));
      });
    });
    result.catch(() => undefined);
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (!ready && out.includes('ready\n')) {
        ready = true;
        resolve({ child, pid: child.pid ?? -1, result });
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (!ready) reject(new Error(`${what} exited with ${code} before it was ready: ${stderr.trim()}`));
    });
  });
}

/** Starts `burn args…` in the cgroup and waits until it runs its loop. */
export function startInCgroup(cgroup: TestCgroup, binary: string, args: string[]): Promise<RunningWorkload> {
  return whenReady(cgroup.spawn(binary, args), `${binary} ${args.join(' ')}`);
}
