/**
 * Where the cgroup v2 hierarchy is mounted: read from /proc/self/mountinfo (plain /sys/fs/cgroup or the
 * hybrid /sys/fs/cgroup/unified), or given explicitly (e.g. the host's /sys/fs/cgroup mounted at
 * /host/sys/fs/cgroup in a pod).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';

/** The cgroup v2 mount points named in a mountinfo text, in file order. */
export function cgroupV2MountPoints(mountinfo: string): string[] {
  const points: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep === -1) continue;
    const fsType = line.slice(sep + 3).split(' ')[0];
    if (fsType !== 'cgroup2') continue;
    const mountPoint = line.slice(0, sep).split(' ')[4];
    if (mountPoint) points.push(unescapeMountPath(mountPoint));
  }
  return points;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The preferred v2 mount among several: /sys/fs/cgroup, then /sys/fs/cgroup/unified, then the first. */
export function pickCgroupV2Mount(points: readonly string[]): string | undefined {
  return points.find((p) => p === '/sys/fs/cgroup') ?? points.find((p) => p === '/sys/fs/cgroup/unified') ?? points[0];
}

export class CgroupRootError extends Error {
  override readonly name = 'CgroupRootError';
}

/**
 * The cgroup v2 root to resolve targets under: `override` when given (it must be a directory holding
 * `cgroup.procs`, or a hybrid host's whole /sys/fs/cgroup — v1 controllers on a tmpfs — whose
 * `unified` is the v2 hierarchy), else the mount found in `mountinfoPath`.
 */
export function findCgroupV2Root(override?: string, mountinfoPath = '/proc/self/mountinfo'): string {
  if (override) {
    const root = override.replace(/\/+$/, '') || '/';
    if (!existsSync(`${root}/cgroup.procs`) && existsSync(`${root}/unified/cgroup.procs`)) return `${root}/unified`;
    assertCgroupDir(override, 'cgroup root');
    return root;
  }
  let text: string;
  try {
    text = readFileSync(mountinfoPath, 'utf8');
  } catch (err) {
    throw new CgroupRootError(`cannot read ${mountinfoPath}: ${(err as Error).message}`);
  }
  const root = pickCgroupV2Mount(cgroupV2MountPoints(text));
  if (!root) {
    throw new CgroupRootError(
      `no cgroup v2 mount in ${mountinfoPath}; mount the host's cgroup2 filesystem and pass --cgroup-root`,
    );
  }
  return root;
}

/** The cgroup v2 mount of this process's mount namespace, or undefined when there is none. */
export function ownCgroupV2Mount(mountinfoPath = '/proc/self/mountinfo'): string | undefined {
  try {
    return pickCgroupV2Mount(cgroupV2MountPoints(readFileSync(mountinfoPath, 'utf8')));
  } catch {
    return undefined;
  }
}

function assertCgroupDir(path: string, what: string): void {
  try {
    if (!statSync(path).isDirectory()) throw new CgroupRootError(`${what} ${path} is not a directory`);
    statSync(`${path}/cgroup.procs`);
  } catch (err) {
    if (err instanceof CgroupRootError) throw err;
    throw new CgroupRootError(`${what} ${path} is not a cgroup v2 directory: ${(err as Error).message}`);
  }
}
