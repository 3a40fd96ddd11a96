/**
 * For blockio's tests (its own, the end-to-end one, the benchmark): a loop device, and dd doing
 * O_DIRECT I/O on it from a cgroup — 3 reads of 4 KiB from sector 0, then 2 writes of 8 KiB from
 * sector 160 — while a second cgroup reads 5 × 4 KiB that must not show.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { TestCgroup } from '../../../test/support/cgroups.ts';
import { runInCgroup } from '../../src/gadget-test-fixture.ts';

export interface TestLoopDevice {
  path: string;
  /** e.g. loop3 */
  disk: string;
  /** major:minor */
  device: string;
  destroy(): void;
}

/** A loop device over a sparse file of `bytes` (default 4 MiB). */
export function createTestLoopDevice(bytes = 4 << 20): TestLoopDevice {
  const dir = mkdtempSync(join(tmpdir(), 'tj-blockio-'));
  const backing = join(dir, 'disk.img');
  writeFileSync(backing, '');
  truncateSync(backing, bytes);
  // dd opens the loop device itself with O_DIRECT; the backing file may be on tmpfs, which before
  // Linux 6.6 does not take O_DIRECT, so the loop device's own I/O stays buffered
  let path: string;
  try {
    path = execFileSync('losetup', ['--find', '--show', backing], { encoding: 'utf8' }).trim();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const { rdev } = statSync(path);
  return {
    path,
    disk: basename(path),
    device: `${Math.floor(rdev / 256)}:${rdev % 256}`,
    destroy() {
      execFileSync('losetup', ['--detach', path]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The pids of the traced reader and writer. */
export interface DirectIoRun {
  readerPid: number;
  writerPid: number;
}

async function dd(cgroup: TestCgroup, args: string[]): Promise<number> {
  const run = await runInCgroup(cgroup, 'dd', [...args, 'status=none']);
  if (run.code !== 0) throw new Error(`dd ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
  return run.pid;
}

/** The traced I/O (3 × 4 KiB reads, 2 × 8 KiB writes) in `traced`, then 5 × 4 KiB reads in `other`. */
export async function directIo(loop: TestLoopDevice, traced: TestCgroup, other: TestCgroup): Promise<DirectIoRun> {
  const readerPid = await dd(traced, [`if=${loop.path}`, 'of=/dev/null', 'bs=4096', 'count=3', 'iflag=direct']);
  const writerPid = await dd(traced, ['if=/dev/zero', `of=${loop.path}`, 'bs=8192', 'count=2', 'seek=10', 'oflag=direct']);
  await dd(other, [`if=${loop.path}`, 'of=/dev/null', 'bs=4096', 'count=5', 'iflag=direct']);
  return { readerPid, writerPid };
}
