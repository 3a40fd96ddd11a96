/**
 * For the gadgets' real-kernel tests: build a gadget's object, run workloads as real processes in
 * real cgroups while a GadgetSession traces, and hand back every event it decoded.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createTestCgroup, uniqueCgroupPath, type TestCgroup } from '../../test/support/cgroups.ts';
import { getGadget } from '../gadgets/index.ts';
import type { GadgetEvent } from './gadget-definition.ts';
import { GadgetSession } from './gadget-session.ts';
import { Btf } from './btf.ts';
import { encodeStruct } from './record-layout.ts';
import { findRepoRoot } from './repo-paths.ts';

/** `make -C bpf` for one gadget's object (a no-op when it is up to date). */
export function buildGadgetObject(name: string): void {
  const gadget = getGadget(name);
  if (!gadget) throw new Error(`unknown gadget ${name}`);
  const root = findRepoRoot();
  execFileSync('make', ['-s', '-C', join(root, 'bpf'), join(root, gadget.objectFile)], { stdio: 'inherit' });
}

/**
 * A record of `gadget` as its object's BTF lays `struct <gadget>_event` out, with the members given
 * by name set (`hdr.pid`, `family`, ...) and the rest zero: decoder test input without offsets.
 */
export function syntheticRecord(gadget: string, values: Readonly<Record<string, number | boolean | Buffer | string>>): Buffer {
  const definition = getGadget(gadget);
  if (!definition) throw new Error(`unknown gadget ${gadget}`);
  buildGadgetObject(gadget);
  return encodeStruct(Btf.fromObjectFile(join(findRepoRoot(), definition.objectFile)), `${gadget}_event`, values);
}

export interface TraceResult {
  events: GadgetEvent[];
  lostEvents: number;
}

/** Start a session, run `workload`, drain, stop; every decoded event in arrival order. */
export async function traceDuring(
  options: { gadget: string; params?: Record<string, unknown>; cgroupIds: number[] | 'all'; ancestorLevels?: number[]; pollIntervalMs?: number },
  workload: (session: GadgetSession) => Promise<void>,
): Promise<TraceResult> {
  const events: GadgetEvent[] = [];
  const errors: Error[] = [];
  const session = await GadgetSession.start({
    ...options,
    onEvents: (batch) => events.push(...batch),
    onError: (err) => errors.push(err),
  });
  let lostEvents = 0;
  try {
    await workload(session);
    session.drain();
  } finally {
    session.stop();
    lostEvents = session.lostEvents();
  }
  if (errors.length > 0) throw errors[0];
  return { events, lostEvents };
}

export interface WorkloadResult {
  /** pid of the process started in the cgroup (the same after its exec). */
  pid: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `cmd args` as a process inside the cgroup to completion. */
export function runInCgroup(cgroup: TestCgroup, cmd: string, args: string[] = []): Promise<WorkloadResult> {
  return new Promise((resolve, reject) => {
    const child = cgroup.spawn(cmd, args);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ pid: child.pid ?? -1, code, stdout, stderr }));
  });
}

export interface PodCgroups {
  /** A cgroup standing for a pod: the one in the filter. */
  pod: TestCgroup;
  /** A cgroup below it, created after the pod, standing for a container the pod started later. */
  container: TestCgroup;
  /** The pod cgroup's level (the v2 root is 0): what the runner passes as ancestorLevels. */
  level: number;
}

/** Run `fn` with a pod cgroup and a container cgroup below it; both are removed afterwards, also on failure. */
export async function withPodCgroup(label: string, fn: (cgroups: PodCgroups) => Promise<void>): Promise<void> {
  const pod = createTestCgroup(uniqueCgroupPath(label));
  let container: TestCgroup | undefined;
  try {
    container = createTestCgroup(`${pod.relPath}/container`);
    await fn({ pod, container, level: pod.relPath.split('/').length });
  } finally {
    await container?.destroy();
    await pod.destroy();
  }
}
