/**
 * For the runner's storm tests: the storm generator of the bench (test/bench/storm-load.c) built
 * once per test file, and a run of it in a cgroup that reports the operations it counted.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { createTestCgroup, uniqueCgroupPath, type TestCgroup } from './support/cgroups.ts';

const root = new URL('..', import.meta.url).pathname;

/** cc storm-load.c into `dir`; returns the binary's path. */
export function buildStormLoad(dir: string): string {
  const bin = join(dir, 'storm-load');
  execFileSync('cc', ['-O2', '-o', bin, join(root, 'test/bench/storm-load.c')], { stdio: 'inherit' });
  return bin;
}

export interface StormOptions {
  bin: string;
  cgroup: TestCgroup;
  path: string;
  seconds: number;
  cpu: number;
  /** Operations per second; 0 = full speed. */
  rate?: number;
  /** Command words put in front (e.g. chrt -f 50), exec'ing the rest. */
  prefix?: string[];
}

/** Runs `open` storms: resolves with the operations the generator counted once it is done. */
export function runOpenStorm(o: StormOptions): Promise<{ ops: number; seconds: number }> {
  const args = ['open', String(o.seconds), String(o.cpu), o.path, String(o.rate ?? 0)];
  const child = spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', o.cgroup.path, ...(o.prefix ?? []), o.bin, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      // the generator waits for a line once it is in the cgroup and pinned
      if (out.startsWith('ready\n') && child.stdin!.writable) child.stdin!.end('go\n');
    });
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`storm-load exited with ${code}: ${err}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as { ops: number; seconds: number });
    });
  });
}

export interface StormFixture {
  /** The test's own cgroup (the runner traces it; the storm runs in it). */
  cg: TestCgroup;
  /** A scratch directory, removed after the file. */
  dir: string;
  /** The compiled storm program. */
  bin: string;
}

/**
 * Registers the file's before/after: a cgroup and a scratch directory of its own, and the storm
 * program built there; both removed afterwards, also when a test failed. Nothing is set up when
 * `skip` says the kernel tests cannot run. The fields are filled in by `before`.
 */
export function useStormFixture(name: string, skip: string | undefined): StormFixture {
  const fixture = {} as StormFixture;
  before(() => {
    if (skip) return;
    fixture.cg = createTestCgroup(uniqueCgroupPath(name));
    fixture.dir = mkdtempSync(join(tmpdir(), `tracejob-${name}-`));
    fixture.bin = buildStormLoad(fixture.dir);
  });
  after(async () => {
    await fixture.cg?.destroy();
    if (fixture.dir) rmSync(fixture.dir, { recursive: true, force: true });
  });
  return fixture;
}
