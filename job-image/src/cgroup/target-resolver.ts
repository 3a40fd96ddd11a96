/**
 * Resolves a node job's targets (container ids, pod uids, cgroup paths, pids) to cgroup ids with the
 * attribution to write on their events, and rescans for targets that appear later (new containers of
 * a target pod, containers not started yet).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join, normalize } from 'node:path';
import type { EventAttribution, NodeTargets, TargetNotFound } from '../../../contracts/index.ts';
import { bareContainerId, normalizePodUid } from './cgroup-names.ts';
import { buildCgroupIndex, findContainer, inodeOf, type CgroupIndex, type CgroupWalkLimits } from './cgroup-index.ts';

export type CgroupAttribution = Omit<EventAttribution, 'node'>;

export interface ResolvedCgroup {
  id: number;
  path: string;
  /** The target (as the user named it) that brought this cgroup in. */
  target: string;
  attribution: CgroupAttribution;
}

export interface CgroupResolverOptions {
  /** cgroup v2 root to resolve under (the mount, or a host path mounted into the pod). */
  root: string;
  /** The cgroup v2 mount of this process's namespace, to read /proc/<pid>/cgroup paths against. */
  ownMount?: string;
  /** Default /proc; a pod with hostPID sees the host's processes there. */
  procRoot?: string;
  walkLimits?: CgroupWalkLimits;
}

interface PendingTarget {
  key: string;
  /** Found in the last resolve pass. */
  find(index: CgroupIndex): { cgroups: ResolvedCgroup[] } | { reason: string };
  /** Keep looking after the first find (pods gain containers during a trace). */
  keepWatching: boolean;
}

export class CgroupResolver {
  private readonly targets: PendingTarget[];
  private readonly resolved = new Map<number, ResolvedCgroup>();
  private readonly notFound = new Map<string, string>();
  private readonly foundKeys = new Set<string>();
  private lastIndex: CgroupIndex | undefined;

  constructor(
    targets: NodeTargets,
    private readonly options: CgroupResolverOptions,
  ) {
    this.targets = this.pendingTargets(targets);
  }

  /** Number of targets the job named. */
  get targetCount(): number {
    return this.targets.length;
  }

  /** Resolve every target (one walk of the hierarchy); returns the cgroups found that were not known before. */
  scan(): ResolvedCgroup[] {
    const index = buildCgroupIndex(this.options.root, this.options.walkLimits);
    this.lastIndex = index;
    const added: ResolvedCgroup[] = [];
    for (const target of this.targets) {
      const wasFound = this.foundKeys.has(target.key);
      if (wasFound && !target.keepWatching) continue;
      const result = target.find(index);
      if ('reason' in result) {
        if (!wasFound) this.notFound.set(target.key, result.reason);
        continue;
      }
      this.notFound.delete(target.key);
      this.foundKeys.add(target.key);
      for (const cgroup of result.cgroups) {
        if (this.resolved.has(cgroup.id)) continue;
        this.resolved.set(cgroup.id, cgroup);
        added.push(cgroup);
      }
    }
    return added;
  }

  /** True when a rescan could find more: some target is still missing, or pods are watched. */
  get wantsRescan(): boolean {
    return this.notFound.size > 0 || this.targets.some((t) => t.keepWatching);
  }

  cgroups(): ResolvedCgroup[] {
    return [...this.resolved.values()];
  }

  attributionOf(cgroupId: number): CgroupAttribution | undefined {
    return this.resolved.get(cgroupId)?.attribution;
  }

  targetsNotFound(): TargetNotFound[] {
    return [...this.notFound].map(([target, reason]) => ({ target, reason }));
  }

  /** The index of the last scan (for diagnostics). */
  get index(): CgroupIndex | undefined {
    return this.lastIndex;
  }

  private pendingTargets(targets: NodeTargets): PendingTarget[] {
    const out: PendingTarget[] = [];
    const root = this.options.root;
    for (const c of targets.containers ?? []) {
      const id = bareContainerId(c.containerId);
      const attribution = definedOnly({ namespace: c.namespace, pod: c.pod, container: c.container });
      out.push({
        key: c.containerId,
        keepWatching: false,
        find: (index) => {
          const dir = findContainer(index, id);
          if (!dir) return { reason: `no cgroup directory for container ${id} under ${root}` };
          return { cgroups: [{ id: dir.id, path: dir.path, target: c.containerId, attribution }] };
        },
      });
    }
    for (const p of targets.pods ?? []) {
      const uid = normalizePodUid(p.podUid);
      out.push({
        key: p.podUid,
        keepWatching: true,
        find: (index) => {
          const pod = index.podDirs.get(uid);
          if (!pod) return { reason: `no cgroup directory for pod ${uid} under ${root}` };
          const dirs = index.containersByPodUid.get(uid) ?? [];
          if (dirs.length === 0) return { reason: `pod ${uid} has no container cgroups yet (${pod.path})` };
          return {
            cgroups: dirs.map((d) => ({
              id: d.id,
              path: d.path,
              target: p.podUid,
              attribution: definedOnly({ namespace: p.namespace, pod: p.pod }),
            })),
          };
        },
      });
    }
    for (const raw of targets.cgroupPaths ?? []) {
      out.push({
        key: raw,
        keepWatching: false,
        find: () => {
          const path = this.cgroupPathUnderRoot(raw);
          const id = inodeOf(path);
          if (id === undefined) return { reason: `cgroup directory ${path} does not exist` };
          return { cgroups: [{ id, path, target: raw, attribution: {} }] };
        },
      });
    }
    for (const pid of targets.pids ?? []) {
      out.push({
        key: String(pid),
        keepWatching: false,
        find: (index) => this.findPid(pid, index),
      });
    }
    return out;
  }

  /** Absolute paths already under the root stay; anything else is taken relative to the root. */
  private cgroupPathUnderRoot(raw: string): string {
    const root = this.options.root;
    if (isAbsolute(raw) && (raw === root || raw.startsWith(`${root}/`))) return normalize(raw);
    return join(root, normalize(`/${raw}`));
  }

  private findPid(pid: number, index: CgroupIndex): { cgroups: ResolvedCgroup[] } | { reason: string } {
    const procRoot = this.options.procRoot ?? '/proc';
    let text: string;
    try {
      text = readFileSync(`${procRoot}/${pid}/cgroup`, 'utf8');
    } catch {
      return { reason: `process ${pid} does not exist` };
    }
    const line = text.split('\n').find((l) => l.startsWith('0::'));
    if (!line) return { reason: `process ${pid} has no cgroup v2 membership (no 0:: line in ${procRoot}/${pid}/cgroup)` };
    const cgPath = line.slice(3).trim();
    const parts = cgPath.split('/').filter(Boolean);
    const found = (path: string, id: number) => ({ cgroups: [{ id, path, target: String(pid), attribution: {} }] });
    if (!parts.includes('..')) {
      // relative to the root of our cgroup namespace, which is the mount's root unless we are in a pod
      const candidates = [join(this.options.root, ...parts)];
      if (this.options.ownMount) candidates.push(join(this.options.ownMount, ...parts));
      for (const path of candidates) {
        const id = inodeOf(path);
        if (id !== undefined) return found(path, id);
      }
    }
    // Outside our cgroup namespace (a pod with its own cgroupns shows `/../../kubepods-…/cri-containerd-….scope`):
    // the part after the `..`s is a unique tail of the real path; find the indexed directory that ends with it.
    const tail = parts.filter((p) => p !== '..').join('/');
    if (tail) {
      const matches = [...index.byId.values()].filter((d) => d.relPath === tail || d.relPath.endsWith(`/${tail}`));
      if (matches.length === 1) return found(matches[0]!.path, matches[0]!.id);
      if (matches.length > 1) return { reason: `cgroup ${cgPath} of process ${pid} matches ${matches.length} directories under ${this.options.root}` };
    }
    return { reason: `cgroup ${cgPath} of process ${pid} is not under ${this.options.root}` };
  }
}


function definedOnly(a: CgroupAttribution): CgroupAttribution {
  const out: CgroupAttribution = {};
  if (a.namespace !== undefined) out.namespace = a.namespace;
  if (a.pod !== undefined) out.pod = a.pod;
  if (a.container !== undefined) out.container = a.container;
  return out;
}
