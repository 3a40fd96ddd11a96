/**
 * The runner's half of a startup trace. The targets' own cgroups (a pod's directory, or a local
 * cgroup path) are the "parents": their ids go in the kernel filter with their levels as ancestor
 * levels, so every cgroup created below them later — a container the pod starts — is traced from
 * its first instruction, with no rescan race. Descendants that exist when the watch begins are
 * remembered; the first event of any other cgroup below a parent is the start. Until then, events
 * of the cgroups that existed already are counted, not recorded.
 */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ContainerStart, NodeTargets, StartupObservation, TargetNotFound } from '../../../contracts/index.ts';
import { buildCgroupIndex, inodeOf } from '../cgroup/cgroup-index.ts';
import { normalizePodUid, parseContainerDirName } from '../cgroup/cgroup-names.ts';
import type { CgroupAttribution } from '../cgroup/target-resolver.ts';

export interface StartupParent {
  id: number;
  path: string;
  /** cgroup v2 level: path segments below the v2 root (the root is 0). */
  level: number;
  target: string;
  attribution: CgroupAttribution;
}

/** Bounded walk below a parent (a pod holds a handful of containers; anything deeper is unusual). */
const WALK_MAX_DIRS = 10_000;
const WALK_MAX_DEPTH = 6;

function descendants(dir: string): Map<number, string> {
  const out = new Map<number, string>();
  const queue: { path: string; depth: number }[] = [{ path: dir, depth: 0 }];
  for (let head = 0; head < queue.length && out.size < WALK_MAX_DIRS; head += 1) {
    const { path, depth } = queue[head]!;
    let names: string[];
    try {
      names = readdirSync(path, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      continue;
    }
    for (const name of names) {
      const child = join(path, name);
      const id = inodeOf(child);
      if (id === undefined) continue;
      out.set(id, child);
      if (depth + 1 < WALK_MAX_DEPTH) queue.push({ path: child, depth: depth + 1 });
    }
  }
  return out;
}

/**
 * The cgroup's level in the kernel's hierarchy (the v2 root is 0), which the ancestor check needs:
 * the number of directories from it up to the hierarchy's root, told by `cgroup.type` (present in
 * every cgroup but the root). Counted on the directories themselves, so it is right whatever
 * subdirectory the resolver was pointed at (--cgroup-root) or where the host's cgroupfs is mounted.
 */
export function cgroupLevelOf(path: string): number {
  let level = 0;
  for (let dir = path; level < 64 && existsSync(join(dir, 'cgroup.type')); dir = dirname(dir)) level += 1;
  return level;
}

/** The parents named by a startup job: its pods' directories and its cgroup paths. */
export function resolveStartupParents(targets: NodeTargets, root: string): { parents: StartupParent[]; notFound: TargetNotFound[] } {
  const parents: StartupParent[] = [];
  const notFound: TargetNotFound[] = [];
  if (targets.pods?.length) {
    const index = buildCgroupIndex(root);
    for (const p of targets.pods) {
      const dir = index.podDirs.get(normalizePodUid(p.podUid));
      if (!dir) {
        notFound.push({ target: p.podUid, reason: `no cgroup directory for pod ${p.podUid} under ${root}` });
        continue;
      }
      const attribution: CgroupAttribution = {};
      if (p.namespace !== undefined) attribution.namespace = p.namespace;
      if (p.pod !== undefined) attribution.pod = p.pod;
      parents.push({ id: dir.id, path: dir.path, level: cgroupLevelOf(dir.path), target: p.podUid, attribution });
    }
  }
  for (const raw of targets.cgroupPaths ?? []) {
    const path = raw.startsWith(`${root}/`) || raw === root ? raw : join(root, raw.replace(/^\/+/, ''));
    const id = inodeOf(path);
    if (id === undefined) {
      notFound.push({ target: raw, reason: `cgroup directory ${path} does not exist` });
      continue;
    }
    parents.push({ id, path, level: cgroupLevelOf(path), target: raw, attribution: {} });
  }
  return { parents, notFound };
}

/** Where a cgroup below a parent sits: the parent's attribution, its path, the container id its directory names. */
export type StartupCgroup = CgroupAttribution & { path?: string; containerId?: string };

export type StartupVerdict = 'record' | 'skip';

export class StartupWatch {
  private readonly known = new Set<number>();
  private readonly parentIds: Set<number>;
  private readonly adopted = new Map<number, StartupCgroup | undefined>();
  private startSeen: ContainerStart | undefined;
  private skipped = 0;
  private watchingSince = Date.now();
  private endedAt: number | undefined;

  constructor(
    readonly parents: readonly StartupParent[],
    readonly timeoutSeconds: number,
  ) {
    this.parentIds = new Set(parents.map((p) => p.id));
  }

  /** Levels for GadgetSession's `ancestorLevels`. */
  get ancestorLevels(): number[] {
    return [...new Set(this.parents.map((p) => p.level))];
  }

  get parentCgroupIds(): number[] {
    return [...this.parentIds];
  }

  /** Remember what exists below the parents now: call right before the gadget attaches. */
  snapshot(now = Date.now()): void {
    for (const p of this.parents) for (const id of descendants(p.path).keys()) this.known.add(id);
    this.watchingSince = now;
  }

  get start(): ContainerStart | undefined {
    return this.startSeen;
  }

  /**
   * One event, in arrival order: 'record' it (the start or anything after it, or the parent's own
   * processes) or 'skip' it (a cgroup that existed already, before the start). `onStart` is called
   * once, for the first event of a new cgroup.
   */
  observe(event: { cgroupId: number; pid: number; comm: string; timestamp: string }, onStart?: (start: ContainerStart) => void): StartupVerdict {
    if (this.startSeen) return 'record';
    if (this.known.has(event.cgroupId) || this.parentIds.has(event.cgroupId)) {
      this.skipped += 1;
      return 'skip';
    }
    const where = this.attributionOf(event.cgroupId);
    const start: ContainerStart = { at: new Date(Number(BigInt(event.timestamp) / 1_000_000n)).toISOString(), cgroupId: event.cgroupId, pid: event.pid, comm: event.comm };
    if (where?.path) start.cgroupPath = where.path;
    if (where?.containerId) start.containerId = where.containerId;
    if (where?.namespace) start.namespace = where.namespace;
    if (where?.pod) start.pod = where.pod;
    this.startSeen = start;
    this.endedAt = Date.now();
    onStart?.(start);
    return 'record';
  }

  /**
   * Attribution of a cgroup below a parent: the parent's (namespace, pod) plus the container id
   * its directory name carries. Found by a walk of the parents on first sight of each cgroup, then
   * cached (this runs for every event).
   */
  attributionOf(cgroupId: number): StartupCgroup | undefined {
    if (this.adopted.has(cgroupId)) return this.adopted.get(cgroupId);
    for (const p of this.parents) {
      if (p.id === cgroupId) return p.attribution;
      const path = descendants(p.path).get(cgroupId);
      if (!path) continue;
      const out: StartupCgroup = { ...p.attribution, path };
      // the container's own directory is the first level below the pod that names one
      for (let dir = path; dir.length > p.path.length; dir = dir.slice(0, dir.lastIndexOf('/'))) {
        const parentName = dir.slice(0, dir.lastIndexOf('/')).split('/').pop();
        const name = dir.split('/').pop()!;
        const container = parseContainerDirName(name, parentName);
        if (container) out.containerId = container.containerId;
      }
      this.adopted.set(cgroupId, out);
      return out;
    }
    // not below any parent (gone already): remembered too, so that each cgroup costs one walk
    this.adopted.set(cgroupId, undefined);
    return undefined;
  }

  /** Call when the wait timed out (no start). */
  timedOut(now = Date.now()): void {
    this.endedAt ??= now;
  }

  observation(): StartupObservation {
    const ended = this.endedAt ?? Date.now();
    const out: StartupObservation = {
      timeoutSeconds: this.timeoutSeconds,
      waitedSeconds: Math.max(0, Math.round((ended - this.watchingSince) / 100) / 10),
      eventsBeforeStart: this.skipped,
    };
    if (this.startSeen) out.start = this.startSeen;
    return out;
  }
}
