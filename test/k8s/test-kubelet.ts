/**
 * TestKubelet: a test double of the kubelet (there is no container runtime on this machine).
 * It registers Node objects and plays the kubelet for the pods bound to them (`spec.nodeName`):
 *
 * - workload pods: each container gets a real cgroup v2 directory under a test-owned parent, in
 *   the path shape of the node's runtime and cgroup driver (containerd/CRI-O/Docker, systemd or
 *   cgroupfs), and a real process in it (a shell loop that execs /bin/true); the pod's status gets
 *   `containerID: <runtime>://<id>` and phase Running.
 * - runner pods (label app.kubernetes.io/managed-by=tracejob): the container's command runs as a
 *   local process, with the pod's env, its Secret volumes materialised to a temp dir, emptyDirs as
 *   temp dirs and hostPaths mapped to this machine (the cgroup root → the test-owned parent);
 *   the pod's status follows the process (Running → Succeeded/Failed with the exit code).
 * - deletion: SIGTERM, then SIGKILL after the pod's grace period; then the pod is removed.
 * - activeDeadlineSeconds is enforced (SIGTERM, phase Failed, reason DeadlineExceeded).
 * - node failures, on a test's command: `killNode` (the node dies: its kubelet stops and its
 *   pods' processes are killed, nothing more is posted) and `setNodeReady` (the Ready condition
 *   as the kubelet posts it, or as the node lifecycle controller sets it to Unknown when the
 *   heartbeats stop: that controller does not run in the test control plane, this plays it);
 *   `markPodCollected` plays the pod garbage collector on a pod whose node is gone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, type KubeConfig, type V1ContainerStatus, type V1Pod, type V1PodStatus } from '../../scheduler/src/kubernetes/kubernetes-client.ts';
import { apiErrorCode } from '../../scheduler/src/kubernetes/api-error.ts';
import { PodWatch } from '../../scheduler/src/kubernetes/pod-watch.ts';
import { createTestCgroup, cgroupV2Root, type TestCgroup } from '../support/cgroups.ts';

export type TestRuntime = 'containerd' | 'cri-o' | 'docker';
export type TestCgroupDriver = 'systemd' | 'cgroupfs';

export interface TestNode {
  name: string;
  runtime?: TestRuntime;
  cgroupDriver?: TestCgroupDriver;
  labels?: Record<string, string>;
  /** Images whose pulls fail on this node: their pods stay Pending with ImagePullBackOff. */
  failImagePulls?: string[];
  /** Registered as a Node, but no kubelet serves it (pods stay Pending with no status). */
  unserved?: boolean;
}

export interface TestKubeletOptions {
  /** A KubeConfig allowed to write nodes and pod status (the admin's). */
  kubeConfig: KubeConfig;
  nodes: TestNode[];
  /** The test-owned cgroup parent, relative to the cgroup v2 root: plays each node's /sys/fs/cgroup. */
  cgroupParent: string;
  /** argv for a runner container's command (e.g. `tracejob-runner` → node bin/tracejob-runner.js). */
  mapRunnerCommand: (argv: string[]) => string[];
  /** Host paths of the pods mapped to this machine; default: cgroup root → the test-owned parent. */
  mapHostPath?: (path: string) => string;
  /** Workload container processes: a real process in a real cgroup (default true). */
  runWorkloads?: boolean;
  /** Extra env for runner processes (e.g. PATH). */
  runnerEnv?: Record<string, string>;
  log?: (line: string) => void;
}

interface LocalPod {
  key: string;
  namespace: string;
  name: string;
  uid: string;
  node: string;
  runner: boolean;
  processes: ChildProcess[];
  cgroups: TestCgroup[];
  tempDir?: string;
  deadlineTimer?: NodeJS.Timeout;
  terminating: boolean;
  ended: boolean;
  /** Container ids, by container name. */
  containerIds: Map<string, string>;
  /** The runner process's log (stdout + stderr). */
  logFile?: string;
  /** Resolves when the runner process has exited, with what its final status should say. */
  exit?: Promise<RunnerExit>;
}

interface RunnerExit {
  exitCode: number;
  message?: string;
  deadlineExceeded: boolean;
  startedAt: Date;
  containerName: string;
  image: string;
}

const RUNNER_LABEL = 'app.kubernetes.io/managed-by';

function podKey(pod: V1Pod): string {
  return `${pod.metadata?.namespace}/${pod.metadata?.name}`;
}

function qosOf(pod: V1Pod): 'besteffort' | 'burstable' | 'guaranteed' {
  const containers = pod.spec?.containers ?? [];
  const hasAny = containers.some((c) => Object.keys(c.resources?.requests ?? {}).length + Object.keys(c.resources?.limits ?? {}).length > 0);
  if (!hasAny) return 'besteffort';
  const guaranteed = containers.every((c) => {
    const l = c.resources?.limits ?? {};
    const r = c.resources?.requests ?? l;
    return l.cpu !== undefined && l.memory !== undefined && String(r.cpu) === String(l.cpu) && String(r.memory) === String(l.memory);
  });
  return guaranteed ? 'guaranteed' : 'burstable';
}

/** The cgroup path (relative to the node's cgroup root) a real kubelet + runtime would use. */
export function containerCgroupPath(runtime: TestRuntime, driver: TestCgroupDriver, qos: 'besteffort' | 'burstable' | 'guaranteed', podUid: string, containerId: string): string {
  if (driver === 'systemd') {
    const uid = podUid.replace(/-/g, '_');
    const podSlice = qos === 'guaranteed' ? `kubepods-pod${uid}.slice` : `kubepods-${qos}.slice/kubepods-${qos}-pod${uid}.slice`;
    const scope = runtime === 'containerd' ? `cri-containerd-${containerId}.scope` : runtime === 'cri-o' ? `crio-${containerId}.scope` : `docker-${containerId}.scope`;
    return `kubepods.slice/${podSlice}/${scope}`;
  }
  const podDir = qos === 'guaranteed' ? `kubepods/pod${podUid}` : `kubepods/${qos}/pod${podUid}`;
  return `${podDir}/${runtime === 'cri-o' ? `crio-${containerId}` : containerId}`;
}

/** Removes the empty directories (cgroups) below `dir`, deepest first; `dir` itself too when `self`. */
function removeEmptyTree(dir: string, self: boolean): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return;
  }
  for (const e of entries) removeEmptyTree(join(dir, e), true);
  if (self) {
    try {
      rmdirSync(dir);
    } catch {
      /* busy or not empty: left for the test's own cgroup clean-up */
    }
  }
}

export class TestKubelet {
  private readonly core: CoreV1Api;
  private readonly nodes: Map<string, TestNode>;
  private readonly pods = new Map<string, LocalPod>();
  private watch?: PodWatch;
  private readonly queues = new Map<string, Promise<void>>();
  /** Nodes killed by killNode: nothing of theirs is handled or posted any more. */
  private readonly dead = new Set<string>();
  private stopped = false;
  /** Runner pods started, by pod name (for assertions: how many times a runner ran). */
  readonly runnerStarts = new Map<string, number>();

  constructor(private readonly opts: TestKubeletOptions) {
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.nodes = new Map(opts.nodes.map((n) => [n.name, n]));
  }

  private log(line: string): void {
    this.opts.log?.(`[test-kubelet] ${line}`);
  }

  async start(): Promise<void> {
    for (const node of this.nodes.values()) await this.registerNode(node);
    this.watch = new PodWatch({
      kubeConfig: this.opts.kubeConfig,
      timeoutSeconds: 20,
      onPod: (type, pod) => {
        const nodeName = pod.spec?.nodeName;
        if (!nodeName) return;
        const node = this.nodes.get(nodeName);
        if (!node || node.unserved || this.dead.has(nodeName)) return;
        this.enqueue(podKey(pod), () => this.sync(type, pod, node));
      },
    });
    await this.watch.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watch?.stop();
    await Promise.all([...this.queues.values()]);
    for (const p of [...this.pods.values()]) await this.teardown(p, 'SIGKILL', 0);
    removeEmptyTree(join(cgroupV2Root(), this.opts.cgroupParent), false);
  }

  /**
   * The node dies (power lost): its kubelet stops handling pods and posting status, and every
   * process of its pods is killed — a runner on it uploads nothing. The Node object stays as it
   * was (Ready) until setNodeReady or a delete says otherwise, as on a real cluster.
   */
  async killNode(name: string): Promise<void> {
    this.dead.add(name);
    const onNode = [...this.pods.values()].filter((p) => p.node === name);
    for (const p of onNode) p.terminating = true; // their exits post nothing
    await Promise.all(onNode.map((p) => this.teardown(p, 'SIGKILL', 0)));
    this.log(`node ${name} killed (${onNode.length} pods' processes)`);
  }

  /**
   * Sets the Node's Ready condition: `False` as a live kubelet posts it (runtime or network down),
   * `Unknown` as the node lifecycle controller sets it once the kubelet's heartbeats stop, `True`
   * as a kubelet that is well again.
   */
  async setNodeReady(name: string, status: 'True' | 'False' | 'Unknown', reason: string, message: string): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      const current = await this.core.readNode({ name });
      const now = new Date();
      const others = (current.status?.conditions ?? []).filter((c) => c.type !== 'Ready');
      current.status = { ...current.status, conditions: [...others, { type: 'Ready', status, reason, message, lastHeartbeatTime: now, lastTransitionTime: now }] };
      try {
        await this.core.replaceNodeStatus({ name, body: current });
        this.log(`node ${name} Ready=${status} (${reason})`);
        return;
      } catch (err) {
        if (apiErrorCode(err) !== 409 || attempt >= 10) throw err;
      }
    }
  }

  /**
   * Plays the pod garbage collector on a pod whose node is gone: phase Failed with the
   * DisruptionTarget condition `DeletionByPodGC`, as kube-controller-manager posts it before it
   * deletes such a pod (that controller does not run in the test control plane).
   */
  async markPodCollected(namespace: string, name: string): Promise<void> {
    const pod = await this.core.readNamespacedPod({ name, namespace });
    await this.updateStatus(pod, (s) => {
      s.phase = 'Failed';
      const now = new Date();
      s.conditions = [...(s.conditions ?? []).filter((c) => c.type !== 'DisruptionTarget'), { type: 'DisruptionTarget', status: 'True', reason: 'DeletionByPodGC', message: 'PodGC: node no longer exists', lastTransitionTime: now }];
    });
  }

  /** The container id the test kubelet gave `namespace/pod`'s `container`. */
  containerId(namespace: string, pod: string, container: string): string | undefined {
    return this.pods.get(`${namespace}/${pod}`)?.containerIds.get(container);
  }

  /** cgroup ids of `namespace/pod`'s containers. */
  cgroupIds(namespace: string, pod: string): number[] {
    return this.pods.get(`${namespace}/${pod}`)?.cgroups.map((c) => c.id) ?? [];
  }

  private async registerNode(node: TestNode): Promise<void> {
    const body = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: node.name, labels: { 'kubernetes.io/hostname': node.name, 'kubernetes.io/os': 'linux', ...node.labels } },
    };
    try {
      await this.core.createNode({ body });
    } catch (err) {
      if (apiErrorCode(err) !== 409) throw err;
    }
    if (node.unserved) return;
    const current = await this.core.readNode({ name: node.name });
    const now = new Date();
    current.status = {
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'test kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: now }],
      addresses: [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: node.name }],
      capacity: { cpu: '2', memory: '4Gi', pods: '110' },
      allocatable: { cpu: '2', memory: '4Gi', pods: '110' },
      nodeInfo: {
        architecture: 'amd64',
        bootID: '',
        containerRuntimeVersion: `${node.runtime ?? 'containerd'}://test`,
        kernelVersion: '',
        kubeProxyVersion: '',
        kubeletVersion: 'v1.35.4-test-kubelet',
        machineID: '',
        operatingSystem: 'linux',
        osImage: 'test-kubelet',
        systemUUID: '',
      },
    };
    await this.core.replaceNodeStatus({ name: node.name, body: current });
  }

  /** Serialises work per pod so that status updates do not race. */
  private enqueue(key: string, work: () => Promise<void>): void {
    const prev = this.queues.get(key) ?? Promise.resolve();
    const next = prev.then(work).catch((err: unknown) => this.log(`${key}: ${(err as Error).message}`));
    this.queues.set(key, next);
    void next.then(() => {
      if (this.queues.get(key) === next) this.queues.delete(key);
    });
  }

  private async sync(type: string, pod: V1Pod, node: TestNode): Promise<void> {
    if (this.stopped || this.dead.has(node.name)) return;
    const key = podKey(pod);
    const local = this.pods.get(key);
    if (type === 'DELETED') {
      if (local) await this.teardown(local, 'SIGKILL', 0);
      return;
    }
    if (local && local.uid !== pod.metadata?.uid) await this.teardown(local, 'SIGKILL', 0);
    if (pod.metadata?.deletionTimestamp) {
      const cur = this.pods.get(key);
      if (cur && !cur.terminating) {
        cur.terminating = true;
        const alreadyEnded = cur.ended;
        await this.teardown(cur, 'SIGTERM', pod.metadata.deletionGracePeriodSeconds ?? 30);
        // Like the kubelet: the container's final state is posted before the pod is removed.
        if (cur.exit && !alreadyEnded) await this.recordExit(pod, await cur.exit);
      }
      await this.core.deleteNamespacedPod({ name: pod.metadata.name!, namespace: pod.metadata.namespace!, gracePeriodSeconds: 0 }).catch(() => undefined);
      return;
    }
    if (this.pods.has(key)) return;
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    const failing = (pod.spec?.containers ?? []).filter((c) => c.image && node.failImagePulls?.includes(c.image));
    if (failing.length > 0) {
      await this.updateStatus(pod, (s) => {
        s.phase = 'Pending';
        s.containerStatuses = failing.map((c) => ({
          name: c.name,
          image: c.image ?? '',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}": failed to pull (test kubelet: pulls fail on node ${node.name})` } },
        }));
      });
      return;
    }
    const runner = pod.metadata?.labels?.[RUNNER_LABEL] === 'tracejob';
    if (runner) await this.startRunner(pod, node);
    else await this.startWorkload(pod, node);
  }

  private async startWorkload(pod: V1Pod, node: TestNode): Promise<void> {
    const uid = pod.metadata!.uid!;
    const local: LocalPod = { key: podKey(pod), namespace: pod.metadata!.namespace!, name: pod.metadata!.name!, uid, node: node.name, runner: false, processes: [], cgroups: [], terminating: false, ended: false, containerIds: new Map() };
    this.pods.set(local.key, local);
    const runtime = node.runtime ?? 'containerd';
    const driver = node.cgroupDriver ?? 'systemd';
    const qos = qosOf(pod);
    const startedAt = new Date();
    const statuses: V1ContainerStatus[] = [];
    for (const c of pod.spec?.containers ?? []) {
      const id = randomBytes(32).toString('hex');
      local.containerIds.set(c.name, id);
      if (this.opts.runWorkloads !== false) {
        const rel = containerCgroupPath(runtime, driver, qos, uid, id);
        const podDir = join(cgroupV2Root(), this.opts.cgroupParent, dirname(rel));
        mkdirSync(podDir, { recursive: true });
        const cg = createTestCgroup(basename(rel), podDir);
        local.cgroups.push(cg);
        const child = cg.spawn('/bin/sh', ['-c', 'while :; do /bin/true; sleep 0.2; done']);
        child.on('error', () => undefined);
        local.processes.push(child);
      }
      statuses.push({
        name: c.name,
        containerID: `${runtime}://${id}`,
        image: c.image ?? '',
        imageID: `${c.image}@sha256:${'0'.repeat(64)}`,
        ready: true,
        started: true,
        restartCount: 0,
        state: { running: { startedAt } },
      });
    }
    await this.updateStatus(pod, (s) => {
      s.phase = 'Running';
      s.hostIP = '127.0.0.1';
      s.podIP = '127.0.0.1';
      s.startTime = startedAt;
      s.conditions = [
        { type: 'Ready', status: 'True', lastTransitionTime: startedAt },
        { type: 'ContainersReady', status: 'True', lastTransitionTime: startedAt },
      ];
      s.containerStatuses = statuses;
    });
    this.log(`workload ${local.key} running on ${node.name} (${runtime}/${driver})`);
  }

  private hostPath(path: string): string {
    if (this.opts.mapHostPath) return this.opts.mapHostPath(path);
    if (path === '/sys/fs/cgroup') return join(cgroupV2Root(), this.opts.cgroupParent);
    return path;
  }

  private async startRunner(pod: V1Pod, node: TestNode): Promise<void> {
    const ns = pod.metadata!.namespace!;
    const name = pod.metadata!.name!;
    const container = pod.spec?.containers?.[0];
    if (!container) return;
    const tempDir = mkdtempSync(join(tmpdir(), `tj-kubelet-${name.slice(0, 40)}-`));
    const local: LocalPod = { key: podKey(pod), namespace: ns, name, uid: pod.metadata!.uid!, node: node.name, runner: true, processes: [], cgroups: [], tempDir, terminating: false, ended: false, containerIds: new Map() };
    this.pods.set(local.key, local);

    // Volumes → local directories.
    const volumeDirs = new Map<string, string>();
    for (const v of pod.spec?.volumes ?? []) {
      if (v.hostPath) {
        volumeDirs.set(v.name, this.hostPath(v.hostPath.path));
      } else if (v.emptyDir) {
        const dir = join(tempDir, 'volumes', v.name);
        mkdirSync(dir, { recursive: true });
        volumeDirs.set(v.name, dir);
      } else if (v.secret?.secretName) {
        const dir = join(tempDir, 'volumes', v.name);
        mkdirSync(dir, { recursive: true });
        const secret = await this.core.readNamespacedSecret({ name: v.secret.secretName, namespace: ns });
        const data = secret.data ?? {};
        const items = v.secret.items ?? Object.keys(data).map((key) => ({ key, path: key }));
        for (const item of items) {
          const value = data[item.key];
          if (value === undefined) throw new Error(`secret ${v.secret.secretName} has no key ${item.key}`);
          const file = join(dir, item.path);
          mkdirSync(dirname(file), { recursive: true });
          writeFileSync(file, Buffer.from(value, 'base64'), { mode: (item as { mode?: number }).mode ?? v.secret.defaultMode ?? 0o644 });
        }
        volumeDirs.set(v.name, dir);
      }
    }
    const mounts = (container.volumeMounts ?? [])
      .filter((m) => volumeDirs.has(m.name))
      .map((m) => ({ from: m.mountPath, to: volumeDirs.get(m.name)! }))
      .sort((a, b) => b.from.length - a.from.length);
    const mapPath = (value: string) => {
      for (const m of mounts) {
        if (value === m.from || value.startsWith(`${m.from}/`)) return m.to + value.slice(m.from.length);
      }
      return value;
    };
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tempDir, ...this.opts.runnerEnv };
    for (const e of container.env ?? []) {
      if (e.value !== undefined) env[e.name] = mapPath(e.value);
      else if (e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName') env[e.name] = node.name;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = name;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = ns;
    }
    const tmpMount = mounts.find((m) => m.from === '/tmp');
    if (tmpMount) env.TMPDIR = tmpMount.to;
    const argv = this.opts.mapRunnerCommand([...(container.command ?? []), ...(container.args ?? []).map(mapPath)]);
    local.logFile = join(tempDir, 'runner.log');
    const out = createWriteStream(local.logFile);
    const child = spawn(argv[0]!, argv.slice(1), { env, cwd: tempDir, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    local.processes.push(child);
    this.runnerStarts.set(name, (this.runnerStarts.get(name) ?? 0) + 1);
    const startedAt = new Date();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('error', (err) => {
        out.write(`spawn failed: ${err.message}\n`);
        resolve({ code: 128, signal: null });
      });
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    const deadline = pod.spec?.activeDeadlineSeconds;
    let deadlineExceeded = false;
    if (deadline) {
      local.deadlineTimer = setTimeout(() => {
        deadlineExceeded = true;
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), (pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000).unref();
      }, deadline * 1000);
      local.deadlineTimer.unref();
    }
    await this.updateStatus(pod, (s) => {
      s.phase = 'Running';
      s.hostIP = '127.0.0.1';
      s.startTime = startedAt;
      s.containerStatuses = [{ name: container.name, containerID: `${node.runtime ?? 'containerd'}://${randomBytes(32).toString('hex')}`, image: container.image ?? '', imageID: '', ready: true, started: true, restartCount: 0, state: { running: { startedAt } } }];
    });
    this.log(`runner ${local.key} started on ${node.name}: ${argv.join(' ')}`);
    local.exit = exited.then(({ code, signal }) => {
      if (local.deadlineTimer) clearTimeout(local.deadlineTimer);
      local.ended = true;
      const exitCode = code ?? 128 + (signal === 'SIGKILL' ? 9 : 15);
      let message: string | undefined;
      try {
        message = readFileSync(local.logFile!, 'utf8').trim().split('\n').slice(-5).join('\n') || undefined;
      } catch {
        message = undefined;
      }
      this.log(`runner ${local.key} exited ${exitCode}${exitCode ? `: ${message}` : ''}`);
      const info: RunnerExit = { exitCode, deadlineExceeded, startedAt, containerName: container.name, image: container.image ?? '' };
      if (message) info.message = message;
      // A pod being deleted records its end in the deletion path (before it is removed).
      if (!local.terminating) this.enqueue(local.key, () => this.recordExit(pod, info));
      return info;
    });
  }

  private async recordExit(pod: V1Pod, info: RunnerExit): Promise<void> {
    if (this.stopped || this.dead.has(pod.spec?.nodeName ?? '')) return;
    await this.updateStatus(pod, (s) => {
      s.phase = info.exitCode === 0 && !info.deadlineExceeded ? 'Succeeded' : 'Failed';
      if (info.deadlineExceeded) {
        s.reason = 'DeadlineExceeded';
        s.message = 'Pod was active on the node longer than the specified deadline';
      }
      const terminated = { exitCode: info.exitCode, reason: info.exitCode === 0 ? 'Completed' : 'Error', startedAt: info.startedAt, finishedAt: new Date(), ...(info.exitCode !== 0 && info.message ? { message: info.message } : {}) };
      s.containerStatuses = [{ name: info.containerName, containerID: s.containerStatuses?.[0]?.containerID, image: info.image, imageID: '', ready: false, started: false, restartCount: 0, state: { terminated } }];
    }).catch((err: unknown) => {
      if (apiErrorCode(err) !== 404) throw err;
    });
  }

  private async updateStatus(pod: V1Pod, change: (s: V1PodStatus) => void): Promise<void> {
    const name = pod.metadata!.name!;
    const namespace = pod.metadata!.namespace!;
    for (let attempt = 0; ; attempt += 1) {
      const current = await this.core.readNamespacedPod({ name, namespace });
      if (current.metadata?.uid !== pod.metadata?.uid) return;
      const status: V1PodStatus = current.status ?? {};
      change(status);
      current.status = status;
      try {
        await this.core.replaceNamespacedPodStatus({ name, namespace, body: current });
        return;
      } catch (err) {
        if (apiErrorCode(err) !== 409 || attempt >= 10) throw err;
        await sleep(20);
      }
    }
  }

  /** Stops a pod's processes (signal, then SIGKILL after `graceSeconds`) and removes what it used. */
  private async teardown(local: LocalPod, signal: NodeJS.Signals, graceSeconds: number): Promise<void> {
    if (local.deadlineTimer) clearTimeout(local.deadlineTimer);
    const waits = local.processes.map(
      (p) =>
        new Promise<void>((resolve) => {
          if (p.exitCode !== null || p.signalCode !== null) return resolve();
          p.once('exit', () => resolve());
          p.kill(signal);
          if (signal !== 'SIGKILL') setTimeout(() => p.kill('SIGKILL'), graceSeconds * 1000).unref();
        }),
    );
    await Promise.all(waits);
    for (const cg of local.cgroups) {
      await cg.destroy().catch((err: unknown) => this.log(`cgroup cleanup: ${(err as Error).message}`));
      try {
        rmdirSync(dirname(cg.path)); // the pod's directory, once its last container is gone
      } catch {
        /* other containers of the pod are still there */
      }
    }
    if (local.tempDir && !process.env.TRACEJOB_KEEP_K8S_DATA) rmSync(local.tempDir, { recursive: true, force: true });
    if (this.pods.get(local.key) === local) this.pods.delete(local.key);
  }
}
