/**
 * Every cgroup path shape the runner resolves, as real cgroup v2 directories under a test-owned
 * parent (`tracejob-test-<pid>-<n>/`): containerd, CRI-O and Docker with the systemd and the
 * cgroupfs drivers, plus Docker without Kubernetes. The resolver's root is pointed at the parent.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createTestCgroup, uniqueCgroupPath, type TestCgroup } from './support/cgroups.ts';

export interface CgroupShape {
  /** What the shape stands for, for test names. */
  label: string;
  containerId: string;
  podUid?: string;
  /** Path relative to the parent. */
  relPath: string;
}

export function containerIdLike(): string {
  return randomBytes(32).toString('hex');
}

/** One container per supported shape, with fresh ids. */
export function cgroupShapes(): CgroupShape[] {
  const shapes: CgroupShape[] = [];
  const pod = (qos: string | undefined, runtime: string, label: string) => {
    const uid = randomUUID();
    const id = containerIdLike();
    const u = uid.replace(/-/g, '_');
    const slice = qos ? `kubepods.slice/kubepods-${qos}.slice/kubepods-${qos}-pod${u}.slice` : `kubepods.slice/kubepods-pod${u}.slice`;
    shapes.push({ label, containerId: id, podUid: uid, relPath: `${slice}/${runtime}-${id}.scope` });
  };
  pod('burstable', 'cri-containerd', 'containerd, systemd driver, burstable');
  pod('besteffort', 'crio', 'CRI-O, systemd driver, besteffort');
  pod(undefined, 'docker', 'Docker, systemd driver, guaranteed');
  const fsPod = (qos: string | undefined, name: (id: string) => string, label: string) => {
    const uid = randomUUID();
    const id = containerIdLike();
    shapes.push({ label, containerId: id, podUid: uid, relPath: `kubepods/${qos ? `${qos}/` : ''}pod${uid}/${name(id)}` });
  };
  fsPod('burstable', (id) => id, 'containerd, cgroupfs driver, burstable');
  fsPod('besteffort', (id) => `crio-${id}`, 'CRI-O, cgroupfs driver, besteffort');
  fsPod(undefined, (id) => id, 'Docker, cgroupfs driver, guaranteed');
  const sysId = containerIdLike();
  shapes.push({ label: 'Docker without Kubernetes, systemd driver', containerId: sysId, relPath: `system.slice/docker-${sysId}.scope` });
  const dockerId = containerIdLike();
  shapes.push({ label: 'Docker without Kubernetes, cgroupfs driver', containerId: dockerId, relPath: `docker/${dockerId}` });
  return shapes;
}

export interface ShapeTree {
  parent: TestCgroup;
  cgroups: { shape: CgroupShape; cgroup: TestCgroup }[];
  /** Add one more cgroup under the parent (e.g. a container that starts mid-trace). */
  add(relPath: string): TestCgroup;
  destroy(): Promise<void>;
}

/** Create the shapes' directories under a fresh test-owned parent. */
export function createShapeTree(shapes: CgroupShape[]): ShapeTree {
  const parent = createTestCgroup(uniqueCgroupPath('shapes'));
  const extra: TestCgroup[] = [];
  const cgroups = shapes.map((shape) => ({ shape, cgroup: createTestCgroup(shape.relPath, parent.path) }));
  return {
    parent,
    cgroups,
    add(relPath) {
      const cg = createTestCgroup(relPath, parent.path);
      extra.push(cg);
      return cg;
    },
    async destroy() {
      for (const cg of [...extra].reverse()) await cg.destroy();
      for (const { cgroup } of [...cgroups].reverse()) await cgroup.destroy();
      await parent.destroy();
    },
  };
}
