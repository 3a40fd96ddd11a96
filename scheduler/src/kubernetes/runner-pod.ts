/**
 * The runner pod and the per-trace Secret, as pure builders.
 *
 * One runner pod per (trace, node), named deterministically so that a scheduler that restarts
 * mid-trace gets 409 Conflict on create and adopts the pod instead of starting a second one.
 * The node's NodeJobSpec (with its upload token) travels in the trace's Secret, one key per node,
 * mounted as a file: never in the pod's env, args or annotations.
 *
 * Privileges (the least the runner needs to load and attach BPF programs on a node):
 * - `hostPID`: the gadgets report pids of the host's pid namespace; the runner reads
 *   `/proc/<pid>` of those processes (and of `targets.pids`) to enrich and resolve them.
 * - CAP_BPF: create maps and load programs (bpf(2)) on kernels >= 5.8.
 * - CAP_PERFMON: attach to tracepoints through perf_event_open(2) and let tracing programs read
 *   kernel memory (bpf_probe_read*) on kernels >= 5.8.
 * - CAP_SYS_RESOURCE only where the node's kernel needs it (`sysResource`): kernels < 5.11 charge
 *   BPF maps against RLIMIT_MEMLOCK, which the runner then raises; newer ones charge the memory
 *   cgroup. Not added by default: runtimes whose own root lacks it (nested or restricted nodes)
 *   refuse to start a container that asks for it.
 * - CAP_SYS_ADMIN: kernels < 5.8 know neither CAP_BPF nor CAP_PERFMON and demand it for bpf(2);
 *   newer ones still need it for some map/program types, for reading tracefs event ids, and for
 *   mounting bpffs/tracefs when the node has not. Every other capability is dropped.
 * - `profile` runners only (GADGET_CAPABILITIES): CAP_SYS_PTRACE, to read `/proc/<pid>/maps` and
 *   `/proc/<pid>/root/…` of the sampled processes (the kernel's ptrace access check: the
 *   targets run as other users or hold capabilities the runner lacks), which symbolizes their
 *   user stacks; CAP_SYSLOG, to read kernel addresses in /proc/kallsyms (kptr_restrict=1).
 *   CAP_PERFMON (above) is what the per-CPU perf events need.
 * - seccomp `RuntimeDefault`: the runtimes' default profiles allow bpf(2) and perf_event_open(2)
 *   to a process holding CAP_SYS_ADMIN (newer ones: CAP_BPF / CAP_PERFMON). bpffs and tracefs
 *   come as hostPath mounts, so the runner has no mount(2) to do (which AppArmor's default
 *   profile would refuse).
 * - `privileged: true` only when configured (`privileged`), for kernels or runtimes (e.g. strict
 *   seccomp/AppArmor defaults) that refuse BPF even with those capabilities; seccomp is then
 *   Unconfined.
 * hostPath volumes: the host's cgroupfs read-only at /host/sys/fs/cgroup (the runner resolves
 * container ids to cgroup directories there: `--cgroup-root`), bpffs at /sys/fs/bpf and tracefs at
 * /sys/kernel/tracing. The root filesystem is read-only; the runner writes to an emptyDir.
 */
import { createHash } from 'node:crypto';
import type { V1Container, V1Pod, V1Secret, V1Volume, V1VolumeMount } from './kubernetes-client.ts';
import { runnerBudgetSeconds, type NodeJobSpec } from '../../../contracts/index.ts';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'tracejob';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
export const RUNNER_COMPONENT = 'runner';
export const TRACE_ID_LABEL = 'tracejob.dev/trace-id';
/** A label-safe form of the node name (label values are capped at 63 characters). */
export const NODE_LABEL = 'tracejob.dev/node';
/** The exact node name (annotations have no length cap). */
export const NODE_ANNOTATION = 'tracejob.dev/node';

/** Where things are inside the runner container. */
export const RUNNER_PATHS = {
  specDir: '/var/run/tracejob',
  specFile: '/var/run/tracejob/spec.json',
  outDir: '/var/run/tracejob-out',
  tmpDir: '/tmp',
  cgroupRoot: '/host/sys/fs/cgroup',
  bpffs: '/sys/fs/bpf',
  tracefs: '/sys/kernel/tracing',
} as const;

export interface RunnerResources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

/** Everything about runner pods that comes from configuration, never from a request. */
export interface RunnerPodConfig {
  namespace: string;
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** The runner's command; the builder appends `--spec --out --cgroup-root`. */
  command: readonly string[];
  serviceAccountName: string;
  /** Seconds past the trace's duration before Kubernetes kills the pod (activeDeadlineSeconds). */
  graceSeconds: number;
  /** Seconds the runner gets to upload after SIGTERM (cancel, deletion). */
  terminationGraceSeconds: number;
  privileged: boolean;
  resources: RunnerResources;
  /** Size cap of the output emptyDir. */
  outputSizeLimit: string;
  /** Host paths of the node's cgroup v2 mount, bpffs and tracefs. */
  hostPaths: { cgroupRoot: string; bpffs: string; tracefs: string };
  imagePullSecrets: readonly string[];
  priorityClassName?: string;
  /**
   * CAP_SYS_RESOURCE: `auto` adds it on nodes whose kernel is older than 5.11 (known from the
   * Node's status.nodeInfo.kernelVersion), `always` everywhere, `never` nowhere.
   */
  sysResource: 'auto' | 'always' | 'never';
}

export const DEFAULT_RUNNER_POD_CONFIG: Omit<RunnerPodConfig, 'image'> = {
  namespace: 'tracejob-runners',
  imagePullPolicy: 'IfNotPresent',
  command: ['tracejob-runner'],
  serviceAccountName: 'tracejob-runner',
  graceSeconds: 60,
  terminationGraceSeconds: 30,
  privileged: false,
  resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } },
  outputSizeLimit: '1Gi',
  hostPaths: { cgroupRoot: '/sys/fs/cgroup', bpffs: '/sys/fs/bpf', tracefs: '/sys/kernel/tracing' },
  imagePullSecrets: [],
  sysResource: 'auto',
};

/** True for kernels that charge BPF maps against RLIMIT_MEMLOCK (before 5.11); false when unknown. */
export function kernelChargesMemlock(kernelVersion: string | undefined): boolean {
  const m = /^(\d+)\.(\d+)/.exec(kernelVersion ?? '');
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major < 5 || (major === 5 && minor < 11);
}

/** The capabilities of a non-privileged runner on a node with this kernel. */
export function runnerCapabilities(config: Pick<RunnerPodConfig, 'sysResource'>, kernelVersion?: string): string[] {
  const sysResource = config.sysResource === 'always' || (config.sysResource === 'auto' && kernelChargesMemlock(kernelVersion));
  return sysResource ? ['BPF', 'PERFMON', 'SYS_RESOURCE', 'SYS_ADMIN'] : ['BPF', 'PERFMON', 'SYS_ADMIN'];
}

function shortHash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 10);
}

/** Lower-case DNS-label characters only, dashes collapsed and trimmed, at most `max` characters. */
function dnsSafe(value: string, max: number): string {
  return value
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, max)
    .replace(/^-+|-+$/g, '');
}

/**
 * `tj-<trace>-<node>-<hash>`: a DNS label (<= 63 characters), the same for the same (trace, node),
 * different for different ones (the hash covers the full trace id and node name).
 */
export function runnerPodName(traceId: string, node: string): string {
  const hash = shortHash('pod', traceId, node);
  const trace = dnsSafe(traceId, 16);
  const nodePart = dnsSafe(node, 63 - 'tj-'.length - trace.length - hash.length - 3);
  return ['tj', trace, nodePart, hash].filter(Boolean).join('-');
}

/** `tj-<trace>-<hash>`: the trace's Secret (`-<shard>` appended for the second one on). */
export function runnerSecretName(traceId: string, shard = 0): string {
  const base = ['tj', dnsSafe(traceId, 40), shortHash('secret', traceId)].filter(Boolean).join('-');
  return shard === 0 ? base : `${base}-${shard}`;
}

/** What one Secret may hold: Kubernetes refuses Secrets over 1 MiB; stay well below. */
export const MAX_SECRET_DATA_BYTES = 512 * 1024;

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** A label value naming `value`: itself when it is one, else a truncated form with a hash. */
export function labelValue(value: string): string {
  if (value.length <= 63 && LABEL_VALUE.test(value)) return value;
  const hash = shortHash('label', value);
  const head = value.replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 63 - hash.length - 1).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return head ? `${head}-${hash}` : hash;
}

/** The Secret key holding `node`'s spec (keys allow [-._a-zA-Z0-9]; node names are DNS subdomains). */
export function specKey(node: string): string {
  const safe = node.replace(/[^-._a-zA-Z0-9]/g, '_');
  return `${safe === node ? safe : `${safe}-${shortHash('key', node)}`}.json`;
}

export function traceLabels(traceId: string): Record<string, string> {
  return {
    [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
    [COMPONENT_LABEL]: RUNNER_COMPONENT,
    [TRACE_ID_LABEL]: labelValue(traceId),
  };
}

/** Label selector for every runner object of one trace, or of all traces. */
export function runnerSelector(traceId?: string): string {
  const base = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE},${COMPONENT_LABEL}=${RUNNER_COMPONENT}`;
  return traceId === undefined ? base : `${base},${TRACE_ID_LABEL}=${labelValue(traceId)}`;
}

/** The trace's Secrets and which one holds each node's spec. */
export interface RunnerSecrets {
  secrets: V1Secret[];
  /** Secret name by node. */
  secretOf: Map<string, string>;
}

/**
 * The trace's Secret: one `<node>.json` key per node with that node's NodeJobSpec (upload token
 * included). Traces over many nodes spill into further Secrets of at most `maxBytes` each, filled
 * in job order (the same jobs always give the same Secrets: a restarted scheduler finds them).
 */
export function buildRunnerSecrets(jobs: readonly NodeJobSpec[], namespace: string, maxBytes = MAX_SECRET_DATA_BYTES): RunnerSecrets {
  const first = jobs[0];
  if (!first) throw new Error('buildRunnerSecrets: no jobs');
  const secrets: V1Secret[] = [];
  const secretOf = new Map<string, string>();
  let current: { data: Record<string, string>; bytes: number } | undefined;
  const open = () => {
    const name = runnerSecretName(first.traceId, secrets.length);
    const data: Record<string, string> = {};
    secrets.push({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: { name, namespace, labels: traceLabels(first.traceId), annotations: { 'tracejob.dev/trace-id': first.traceId } },
      stringData: data,
    });
    current = { data, bytes: 0 };
  };
  for (const job of jobs) {
    if (job.traceId !== first.traceId) throw new Error(`buildRunnerSecrets: jobs of two traces (${first.traceId}, ${job.traceId})`);
    const value = JSON.stringify(job);
    const key = specKey(job.node);
    const size = Buffer.byteLength(value) + key.length;
    if (size > maxBytes) throw new Error(`buildRunnerSecrets: the job spec of node ${job.node} is ${size} bytes, over the ${maxBytes}-byte Secret budget (too many targets on one node?)`);
    if (!current || current.bytes + size > maxBytes) open();
    current!.data[key] = value;
    current!.bytes += size;
    secretOf.set(job.node, secrets[secrets.length - 1]!.metadata!.name!);
  }
  return { secrets, secretOf };
}

/** Capabilities a gadget's runner needs beyond the common ones (see the header). */
export const GADGET_CAPABILITIES: Readonly<Partial<Record<NodeJobSpec['gadget'], readonly string[]>>> = {
  profile: ['SYS_PTRACE', 'SYSLOG'],
};

/** The runner pod for one node's job (`kernelVersion`: the node's, when known). Pure: same inputs, same pod. */
export function buildRunnerPod(job: NodeJobSpec, config: RunnerPodConfig, secretName = runnerSecretName(job.traceId), kernelVersion?: string): V1Pod {
  if (!config.image) throw new Error('buildRunnerPod: config.image is required');
  if (!job.node) throw new Error('buildRunnerPod: job.node is required');
  if (!Number.isInteger(job.durationSeconds) || job.durationSeconds < 1) throw new Error('buildRunnerPod: job.durationSeconds must be a positive integer');
  const volumes: V1Volume[] = [
    {
      name: 'spec',
      secret: {
        secretName,
        items: [{ key: specKey(job.node), path: 'spec.json' }],
        defaultMode: 0o400,
      },
    },
    { name: 'out', emptyDir: { sizeLimit: config.outputSizeLimit } },
    { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
    { name: 'host-cgroup', hostPath: { path: config.hostPaths.cgroupRoot, type: 'Directory' } },
    { name: 'bpffs', hostPath: { path: config.hostPaths.bpffs, type: 'Directory' } },
    { name: 'tracefs', hostPath: { path: config.hostPaths.tracefs, type: 'Directory' } },
  ];
  const volumeMounts: V1VolumeMount[] = [
    { name: 'spec', mountPath: RUNNER_PATHS.specDir, readOnly: true },
    { name: 'out', mountPath: RUNNER_PATHS.outDir },
    { name: 'tmp', mountPath: RUNNER_PATHS.tmpDir },
    { name: 'host-cgroup', mountPath: RUNNER_PATHS.cgroupRoot, readOnly: true },
    { name: 'bpffs', mountPath: RUNNER_PATHS.bpffs },
    { name: 'tracefs', mountPath: RUNNER_PATHS.tracefs },
  ];
  const container: V1Container = {
    name: 'runner',
    image: config.image,
    imagePullPolicy: config.imagePullPolicy,
    command: [...config.command],
    args: ['--spec', RUNNER_PATHS.specFile, '--out', RUNNER_PATHS.outDir, '--cgroup-root', RUNNER_PATHS.cgroupRoot],
    env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
    resources: {
      requests: { ...config.resources.requests },
      limits: { ...config.resources.limits },
    },
    volumeMounts,
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: config.privileged
      ? { privileged: true, runAsUser: 0, runAsNonRoot: false, readOnlyRootFilesystem: true }
      : {
          privileged: false,
          runAsUser: 0,
          runAsNonRoot: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'], add: [...runnerCapabilities(config, kernelVersion), ...(GADGET_CAPABILITIES[job.gadget] ?? [])] },
        },
  };
  const pod: V1Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: runnerPodName(job.traceId, job.node),
      namespace: config.namespace,
      labels: { ...traceLabels(job.traceId), [NODE_LABEL]: labelValue(job.node) },
      annotations: { [NODE_ANNOTATION]: job.node, 'tracejob.dev/trace-id': job.traceId, 'tracejob.dev/gadget': job.gadget },
    },
    spec: {
      nodeName: job.node,
      restartPolicy: 'Never',
      activeDeadlineSeconds: runnerBudgetSeconds(job) + config.graceSeconds,
      terminationGracePeriodSeconds: config.terminationGraceSeconds,
      tolerations: [{ operator: 'Exists' }],
      hostPID: true,
      serviceAccountName: config.serviceAccountName,
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: { seccompProfile: { type: config.privileged ? 'Unconfined' : 'RuntimeDefault' } },
      containers: [container],
      volumes,
    },
  };
  if (config.priorityClassName) pod.spec!.priorityClassName = config.priorityClassName;
  if (config.imagePullSecrets.length > 0) pod.spec!.imagePullSecrets = config.imagePullSecrets.map((name) => ({ name }));
  return pod;
}
