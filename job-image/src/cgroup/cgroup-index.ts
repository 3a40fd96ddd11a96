/**
 * One bounded walk of the cgroup v2 hierarchy, indexed by container id, pod uid and cgroup id, so
 * resolving many targets costs one walk instead of a glob per target.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseContainerDirName, parsePodDirName, type ContainerRuntime } from './cgroup-names.ts';

export interface CgroupDir {
  /** Absolute path. */
  path: string;
  /** Path relative to the walked root ('' for the root itself). */
  relPath: string;
  /** The cgroup id: the directory's inode number. */
  id: number;
  containerId?: string;
  runtime?: ContainerRuntime;
  /** Pod uid of the pod directory this container sits under, when there is one. */
  podUid?: string;
}

export interface CgroupIndex {
  root: string;
  byContainerId: Map<string, CgroupDir>;
  /** Container directories under each pod directory. */
  containersByPodUid: Map<string, CgroupDir[]>;
  /** Pod directories by pod uid. */
  podDirs: Map<string, CgroupDir>;
  byId: Map<number, CgroupDir>;
  /** Directories visited; `truncated` is true when the walk hit its bound. */
  visited: number;
  truncated: boolean;
}

export interface CgroupWalkLimits {
  /** Deepest level walked below the root (kubepods.slice/qos/pod/container is 4). Default 10. */
  maxDepth?: number;
  /** Most directories visited. Default 200 000. */
  maxDirs?: number;
}

/** Walk `root` breadth-first (bounded) and index every container and pod directory found. */
export function buildCgroupIndex(root: string, limits: CgroupWalkLimits = {}): CgroupIndex {
  const maxDepth = limits.maxDepth ?? 10;
  const maxDirs = limits.maxDirs ?? 200_000;
  const index: CgroupIndex = {
    root,
    byContainerId: new Map(),
    containersByPodUid: new Map(),
    podDirs: new Map(),
    byId: new Map(),
    visited: 0,
    truncated: false,
  };
  interface Pending {
    path: string;
    relPath: string;
    depth: number;
    podUid?: string;
  }
  const queue: Pending[] = [{ path: root, relPath: '', depth: 0 }];
  for (let head = 0; head < queue.length; head += 1) {
    const dir = queue[head]!;
    if (index.visited >= maxDirs) {
      index.truncated = true;
      break;
    }
    index.visited += 1;
    let names: string[];
    try {
      names = readdirSync(dir.path, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      continue; // removed while walking, or unreadable: skip
    }
    const parentName = basename(dir.path);
    for (const name of names) {
      const path = join(dir.path, name);
      const relPath = dir.relPath ? `${dir.relPath}/${name}` : name;
      const podUid = parsePodDirName(name);
      const container = podUid ? undefined : parseContainerDirName(name, parentName);
      if (podUid || container) {
        const id = inodeOf(path);
        if (id === undefined) continue;
        const entry: CgroupDir = { path, relPath, id };
        if (podUid) {
          index.podDirs.set(podUid, entry);
        } else if (container) {
          entry.containerId = container.containerId;
          entry.runtime = container.runtime;
          if (dir.podUid) entry.podUid = dir.podUid;
          index.byContainerId.set(container.containerId, entry);
          if (dir.podUid) {
            const list = index.containersByPodUid.get(dir.podUid) ?? [];
            list.push(entry);
            index.containersByPodUid.set(dir.podUid, list);
          }
        }
        index.byId.set(id, entry);
      }
      if (dir.depth + 1 < maxDepth) {
        queue.push({ path, relPath, depth: dir.depth + 1, podUid: podUid ?? dir.podUid });
      } else {
        index.truncated = true;
      }
    }
  }
  return index;
}

/** The cgroup id of a directory (its inode number), or undefined when it does not exist. */
export function inodeOf(path: string): number | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return st.isDirectory() ? Number(st.ino) : undefined;
  } catch {
    return undefined;
  }
}

/** A container directory by full id, or by a unique prefix of at least 12 characters (as `docker ps` shows). */
export function findContainer(index: CgroupIndex, containerId: string): CgroupDir | undefined {
  const exact = index.byContainerId.get(containerId);
  if (exact || containerId.length >= 64 || containerId.length < 12) return exact;
  let found: CgroupDir | undefined;
  for (const [id, dir] of index.byContainerId) {
    if (!id.startsWith(containerId)) continue;
    if (found) return undefined; // ambiguous prefix
    found = dir;
  }
  return found;
}
