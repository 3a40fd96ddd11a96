/**
 * Local targets (all-in-one mode): containerIds, pids and cgroupPaths on this machine, which is
 * the one node. Pure resolution plus a check of what can be known at once (cgroup directories
 * and pids that do not exist).
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import { DEFAULT_STARTUP_TIMEOUT_SECONDS, isKubernetesTarget, type ContainerTarget, type LocalTarget, type TraceTarget } from '../../../contracts/index.ts';
import { NoMatchingTargetError, type NodePlan } from '../backend.ts';

/** The cgroup v2 mount of this machine, or undefined when there is none. */
export function findCgroupV2Root(mountinfo = '/proc/self/mountinfo'): string | undefined {
  try {
    for (const line of readFileSync(mountinfo, 'utf8').split('\n')) {
      const [left, right] = line.split(' - ');
      if (right?.split(' ')[0] === 'cgroup2') return left?.split(' ')[4];
    }
  } catch {
    /* no /proc */
  }
  return undefined;
}

function containerTarget(raw: string): ContainerTarget {
  const m = /^([a-z-]+):\/\/(.+)$/.exec(raw);
  if (!m) return { containerId: raw };
  const runtime = m[1] === 'containerd' ? 'containerd' : m[1] === 'cri-o' ? 'cri-o' : m[1] === 'docker' ? 'docker' : 'unknown';
  return { containerId: m[2]!, runtime };
}

/** One plan: every local target on `node`. */
export function resolveLocalTargets(target: TraceTarget, node: string): NodePlan[] {
  if (isKubernetesTarget(target)) {
    throw new NoMatchingTargetError('the local backend cannot resolve Kubernetes targets (namespace, pods); use containerIds, pids or cgroupPaths');
  }
  const t = target as LocalTarget;
  const targets: NodePlan['targets'] = {};
  if (t.containerIds?.length) targets.containers = t.containerIds.map(containerTarget);
  if (t.pids?.length) targets.pids = [...t.pids];
  if (t.cgroupPaths?.length) targets.cgroupPaths = [...t.cgroupPaths];
  if (!targets.containers && !targets.pids && !targets.cgroupPaths) throw new NoMatchingTargetError('the target names no container, pid or cgroup');
  if (t.startup) {
    if (targets.containers || targets.pids || !targets.cgroupPaths) {
      throw new NoMatchingTargetError('a local startup trace names cgroupPaths (it waits for a process started in a new cgroup below them), not containerIds or pids');
    }
    targets.startup = { timeoutSeconds: t.startupTimeoutSeconds ?? DEFAULT_STARTUP_TIMEOUT_SECONDS };
  }
  return [{ node, targets }];
}

/** Absolute cgroup directory of a path given absolute or relative to the v2 mount. */
export function cgroupDirOf(path: string, root: string): string {
  const abs = isAbsolute(path) ? normalize(path) : join(root, path);
  return abs;
}

/** kill(pid, 0): ESRCH means no such process; EPERM means it exists but is not ours. No path lookup in /proc. */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Throws NoMatchingTargetError naming the cgroup paths and pids that do not exist on this machine. */
export function checkLocalTarget(target: TraceTarget, cgroupRoot: string | undefined): void {
  if (isKubernetesTarget(target)) return;
  const t = target as LocalTarget;
  const missing: string[] = [];
  for (const p of t.cgroupPaths ?? []) {
    if (!cgroupRoot) {
      missing.push(`cgroup ${p} (this machine has no cgroup v2 mount)`);
      continue;
    }
    const dir = cgroupDirOf(p, cgroupRoot);
    const inside = dir === cgroupRoot || dir.startsWith(cgroupRoot.endsWith('/') ? cgroupRoot : cgroupRoot + '/');
    let isDir = false;
    try {
      isDir = inside && statSync(dir).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) missing.push(`cgroup ${p} (no directory ${dir})`);
  }
  for (const pid of t.pids ?? []) {
    if (!processExists(pid)) missing.push(`pid ${pid} (no such process)`);
  }
  if (missing.length > 0) throw new NoMatchingTargetError(`target not found on this machine: ${missing.join(', ')}`);
}
