/**
 * Configuration of the kubernetes backend, read once from the environment and validated
 * (a bad value is an error naming the variable). The runner image and everything else about the
 * runner pods come from here, never from a trace request.
 *
 *   RUNNER_IMAGE                      required, e.g. ghcr.io/example/tracejob-runner:0.1.0
 *   RUNNER_IMAGE_PULL_POLICY          Always | IfNotPresent (default) | Never
 *   RUNNER_IMAGE_PULL_SECRETS         comma-separated Secret names in the runner namespace
 *   RUNNER_NAMESPACE                  default tracejob-runners
 *   RUNNER_SERVICE_ACCOUNT            default tracejob-runner
 *   RUNNER_COMMAND                    JSON array, default ["tracejob-runner"]
 *   RUNNER_PRIVILEGED                 true | false (default): privileged runner pods, for kernels that demand it
 *   RUNNER_SYS_RESOURCE               auto (default: on nodes with kernels before 5.11) | always | never: CAP_SYS_RESOURCE
 *   RUNNER_DEADLINE_GRACE_SECONDS     seconds past the duration before the pod is killed (default 60)
 *   RUNNER_TERMINATION_GRACE_SECONDS  seconds to upload after SIGTERM (default 30)
 *   RUNNER_START_TIMEOUT_SECONDS      a node whose pod has not started by then fails (default 120)
 *   RUNNER_NODE_LOST_GRACE_SECONDS    a node NotReady this long mid-trace is given up (default 0: at once)
 *   RUNNER_CPU_REQUEST / RUNNER_CPU_LIMIT / RUNNER_MEMORY_REQUEST / RUNNER_MEMORY_LIMIT
 *   RUNNER_OUTPUT_SIZE_LIMIT          emptyDir size cap for the runner's output (default 1Gi)
 *   RUNNER_MAX_PODS_PER_NODE          concurrent runner pods on one node (default 2)
 *   RUNNER_MAX_PODS_TOTAL             concurrent runner pods in all (default 500)
 *   RUNNER_HOST_CGROUP_ROOT / RUNNER_HOST_BPFFS / RUNNER_HOST_TRACEFS   host paths on the nodes
 *   RUNNER_PRIORITY_CLASS             optional priorityClassName
 *   KUBECONFIG                        when not running in a cluster (in-cluster config otherwise)
 */
import type { Logger } from 'pino';
import { KubeConfig } from './kubernetes-client.ts';
import { KubernetesBackend, type KubernetesBackendOptions } from './kubernetes-backend.ts';
import { DEFAULT_RUNNER_POD_CONFIG, type RunnerPodConfig } from './runner-pod.ts';

export class KubernetesConfigError extends Error {
  override readonly name = 'KubernetesConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new KubernetesConfigError(name, `must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  return n;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new KubernetesConfigError(name, `must be true or false, got ${JSON.stringify(raw)}`);
}

const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/;

function quantity(env: Env, name: string, fallback: string): string {
  const raw = env[name] || fallback;
  if (!QUANTITY.test(raw)) throw new KubernetesConfigError(name, `must be a Kubernetes quantity (e.g. 100m, 512Mi), got ${JSON.stringify(raw)}`);
  return raw;
}

function dnsName(env: Env, name: string, fallback: string): string {
  const raw = env[name] || fallback;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(raw) || raw.length > 63) throw new KubernetesConfigError(name, `must be a DNS label, got ${JSON.stringify(raw)}`);
  return raw;
}

function absPath(env: Env, name: string, fallback: string): string {
  const raw = env[name] || fallback;
  if (!raw.startsWith('/')) throw new KubernetesConfigError(name, `must be an absolute path, got ${JSON.stringify(raw)}`);
  return raw;
}

function sysResourceOf(env: Env): RunnerPodConfig['sysResource'] {
  const raw = env.RUNNER_SYS_RESOURCE || DEFAULT_RUNNER_POD_CONFIG.sysResource;
  if (raw !== 'auto' && raw !== 'always' && raw !== 'never') throw new KubernetesConfigError('RUNNER_SYS_RESOURCE', `must be auto, always or never, got ${JSON.stringify(raw)}`);
  return raw;
}

export type KubernetesBackendConfig = Omit<KubernetesBackendOptions, 'kubeConfig' | 'logger'>;

export function loadKubernetesBackendConfig(env: Env = process.env): KubernetesBackendConfig {
  const image = env.RUNNER_IMAGE?.trim();
  if (!image) throw new KubernetesConfigError('RUNNER_IMAGE', 'required for the kubernetes backend (the runner image, e.g. ghcr.io/example/tracejob-runner:0.1.0)');
  if (/\s/.test(image)) throw new KubernetesConfigError('RUNNER_IMAGE', `must be an image reference, got ${JSON.stringify(image)}`);
  const policy = env.RUNNER_IMAGE_PULL_POLICY || DEFAULT_RUNNER_POD_CONFIG.imagePullPolicy;
  if (policy !== 'Always' && policy !== 'IfNotPresent' && policy !== 'Never') throw new KubernetesConfigError('RUNNER_IMAGE_PULL_POLICY', `must be Always, IfNotPresent or Never, got ${JSON.stringify(policy)}`);
  let command = [...DEFAULT_RUNNER_POD_CONFIG.command];
  if (env.RUNNER_COMMAND) {
    try {
      const parsed: unknown = JSON.parse(env.RUNNER_COMMAND);
      if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((p) => typeof p === 'string')) throw new Error();
      command = parsed as string[];
    } catch {
      throw new KubernetesConfigError('RUNNER_COMMAND', 'must be a JSON array of strings, e.g. ["tracejob-runner"]');
    }
  }
  const pod: RunnerPodConfig = {
    ...DEFAULT_RUNNER_POD_CONFIG,
    image,
    imagePullPolicy: policy,
    command,
    namespace: dnsName(env, 'RUNNER_NAMESPACE', DEFAULT_RUNNER_POD_CONFIG.namespace),
    serviceAccountName: dnsName(env, 'RUNNER_SERVICE_ACCOUNT', DEFAULT_RUNNER_POD_CONFIG.serviceAccountName),
    privileged: bool(env, 'RUNNER_PRIVILEGED', false),
    sysResource: sysResourceOf(env),
    graceSeconds: int(env, 'RUNNER_DEADLINE_GRACE_SECONDS', DEFAULT_RUNNER_POD_CONFIG.graceSeconds, 1, 3600),
    terminationGraceSeconds: int(env, 'RUNNER_TERMINATION_GRACE_SECONDS', DEFAULT_RUNNER_POD_CONFIG.terminationGraceSeconds, 1, 600),
    resources: {
      requests: { cpu: quantity(env, 'RUNNER_CPU_REQUEST', '100m'), memory: quantity(env, 'RUNNER_MEMORY_REQUEST', '128Mi') },
      limits: { cpu: quantity(env, 'RUNNER_CPU_LIMIT', '1'), memory: quantity(env, 'RUNNER_MEMORY_LIMIT', '512Mi') },
    },
    outputSizeLimit: quantity(env, 'RUNNER_OUTPUT_SIZE_LIMIT', DEFAULT_RUNNER_POD_CONFIG.outputSizeLimit),
    hostPaths: {
      cgroupRoot: absPath(env, 'RUNNER_HOST_CGROUP_ROOT', DEFAULT_RUNNER_POD_CONFIG.hostPaths.cgroupRoot),
      bpffs: absPath(env, 'RUNNER_HOST_BPFFS', DEFAULT_RUNNER_POD_CONFIG.hostPaths.bpffs),
      tracefs: absPath(env, 'RUNNER_HOST_TRACEFS', DEFAULT_RUNNER_POD_CONFIG.hostPaths.tracefs),
    },
    imagePullSecrets: (env.RUNNER_IMAGE_PULL_SECRETS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
  };
  if (env.RUNNER_PRIORITY_CLASS) pod.priorityClassName = env.RUNNER_PRIORITY_CLASS;
  return {
    pod,
    startTimeoutSeconds: int(env, 'RUNNER_START_TIMEOUT_SECONDS', 120, 1, 3600),
    nodeLostGraceSeconds: int(env, 'RUNNER_NODE_LOST_GRACE_SECONDS', 0, 0, 3600),
    limits: { perNode: int(env, 'RUNNER_MAX_PODS_PER_NODE', 2, 1, 100), total: int(env, 'RUNNER_MAX_PODS_TOTAL', 500, 1, 100_000) },
  };
}

/** The backend from the environment: in-cluster credentials in a pod, else KUBECONFIG / ~/.kube/config. */
export function createKubernetesBackendFromEnv(env: Env = process.env, logger?: Logger): KubernetesBackend {
  const config = loadKubernetesBackendConfig(env);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  const opts: KubernetesBackendOptions = { ...config, kubeConfig };
  if (logger) opts.logger = logger;
  return new KubernetesBackend(opts);
}
