/**
 * Real cgroup v2 directories for tests: create one (in any path shape), run real processes in it,
 * and remove it afterwards. Used to play containers on a machine with no container runtime.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The cgroup v2 mount point of this machine (plain /sys/fs/cgroup or hybrid /sys/fs/cgroup/unified). */
export function cgroupV2Root(): string {
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    if (right.split(' ')[0] === 'cgroup2') {
      const mountPoint = left.split(' ')[4];
      if (mountPoint) return mountPoint;
    }
  }
  throw new Error('no cgroup v2 mount found in /proc/self/mountinfo');
}

/** Why real-kernel tests cannot run here, or undefined when they can (root with BPF and cgroup v2). */
export function kernelTestSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN) to load BPF programs and create cgroups';
  try {
    cgroupV2Root();
  } catch {
    return 'no cgroup v2 mount on this machine';
  }
  return undefined;
}

export interface TestCgroup {
  /** Absolute path of the cgroup directory. */
  path: string;
  /** Path relative to the cgroup v2 root. */
  relPath: string;
  /** cgroup id: the directory's inode number. */
  id: number;
  /** Spawn a process that moves itself into this cgroup before it execs `cmd`. */
  spawn(cmd: string, args?: string[]): ChildProcess;
  /** Run `cmd` inside the cgroup to completion; resolves with its exit code and stdout. */
  run(cmd: string, args?: string[]): Promise<{ code: number | null; stdout: string }>;
  /** Kill every process in the cgroup and remove the directories this fixture created. */
  destroy(): Promise<void>;
}

let counter = 0;

/** A unique relative path under a test-owned parent, e.g. `tracejob-test-<pid>-<n>/<name>`. */
export function uniqueCgroupPath(name: string): string {
  counter += 1;
  return `tracejob-test-${process.pid}-${counter}/${name}`;
}

/** Create the cgroup `relPath` (and any missing parents) under `root` (default: the v2 mount). */
export function createTestCgroup(relPath: string, root = cgroupV2Root()): TestCgroup {
  const created: string[] = [];
  let current = root;
  for (const part of relPath.split('/').filter(Boolean)) {
    current = join(current, part);
    if (!existsSync(current)) {
      mkdirSync(current);
      created.push(current);
    }
  }
  const path = current;
  const id = Number(statSync(path).ino);

  const spawnIn = (cmd: string, args: string[] = []): ChildProcess =>
    spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', path, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  return {
    path,
    relPath,
    id,
    spawn: spawnIn,
    run(cmd, args = []) {
      return new Promise((resolve, reject) => {
        const child = spawnIn(cmd, args);
        let stdout = '';
        child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout }));
      });
    },
    async destroy() {
      for (const dir of [...created].reverse()) await killAllIn(dir);
      for (const dir of [...created].reverse()) {
        for (let attempt = 0; attempt < 50; attempt += 1) {
          try {
            rmdirSync(dir);
            break;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
            if (attempt === 49) throw err;
            await sleep(20);
          }
        }
      }
    },
  };
}

async function killAllIn(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    let pids: number[];
    try {
      pids = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return;
    }
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await sleep(20);
  }
}
