/**
 * What a cgroup directory name says about the container or pod it holds, for every runtime and
 * driver tracejob supports:
 *
 * systemd driver:  kubepods.slice/kubepods-<qos>.slice/kubepods-<qos>-pod<uid_with_underscores>.slice/
 *                  cri-containerd-<id>.scope | crio-<id>.scope | docker-<id>.scope
 *                  (guaranteed pods: kubepods.slice/kubepods-pod<uid>.slice/...)
 * cgroupfs driver: kubepods/<qos>/pod<uid>/<id>   (CRI-O: crio-<id>)
 * no Kubernetes:   system.slice/docker-<id>.scope, docker/<id>, machine.slice/libpod-<id>.scope
 */
import type { ContainerTarget } from '../../../contracts/index.ts';

export type ContainerRuntime = NonNullable<ContainerTarget['runtime']>;

export interface ContainerDirName {
  containerId: string;
  runtime: ContainerRuntime;
}

const SCOPE = /^(cri-containerd|crio|docker|libpod)-([0-9a-f]{12,64})\.scope$/;
const CRIO_CGROUPFS = /^crio-([0-9a-f]{12,64})$/;
const BARE_ID = /^[0-9a-f]{64}$/;
const SYSTEMD_POD = /^kubepods(?:-[a-z]+)?-pod([0-9a-f_]{36})\.slice$/;
const CGROUPFS_POD = /^pod([0-9a-f-]{36})$/;

const RUNTIME_OF_PREFIX: Record<string, ContainerRuntime> = {
  'cri-containerd': 'containerd',
  crio: 'cri-o',
  docker: 'docker',
  libpod: 'unknown',
};

/**
 * The container a directory name stands for, or undefined. `parentName` tells a bare 64-hex id
 * under `docker/` (Docker, cgroupfs driver) from one under a pod directory (containerd, cgroupfs).
 */
export function parseContainerDirName(name: string, parentName?: string): ContainerDirName | undefined {
  const scope = SCOPE.exec(name);
  if (scope) return { containerId: scope[2]!, runtime: RUNTIME_OF_PREFIX[scope[1]!] ?? 'unknown' };
  const crio = CRIO_CGROUPFS.exec(name);
  if (crio) return { containerId: crio[1]!, runtime: 'cri-o' };
  if (BARE_ID.test(name)) {
    const runtime: ContainerRuntime = parentName === 'docker' ? 'docker' : parentName && parsePodDirName(parentName) ? 'containerd' : 'unknown';
    return { containerId: name, runtime };
  }
  return undefined;
}

/** The pod uid (with dashes) a directory name stands for, or undefined. */
export function parsePodDirName(name: string): string | undefined {
  const systemd = SYSTEMD_POD.exec(name);
  if (systemd) return systemd[1]!.replace(/_/g, '-');
  const cgroupfs = CGROUPFS_POD.exec(name);
  if (cgroupfs) return cgroupfs[1]!;
  return undefined;
}

/** `containerd://abc…` / `docker://abc…` / `cri-o://abc…` → `abc…`, lower-cased. */
export function bareContainerId(id: string): string {
  return id.replace(/^[a-z0-9-]+:\/\//i, '').trim().toLowerCase();
}

/** Pod uids compare in lower case with dashes, whatever the driver wrote. */
export function normalizePodUid(uid: string): string {
  return uid.trim().toLowerCase().replace(/_/g, '-');
}
