/**
 * Target resolution on Kubernetes: the running pods a trace request names, grouped by node.
 * `plansFromPods` is pure (unit-tested); `resolveKubernetesTargets` lists the pods (paginated,
 * filtered by the apiserver) and hands them to it.
 */
import type { CoreV1Api, V1Pod } from './kubernetes-client.ts';
import { DEFAULT_STARTUP_TIMEOUT_SECONDS, type ContainerTarget, type KubernetesTarget, type PodTarget } from '../../../contracts/index.ts';
import { InvalidTargetError, NoMatchingTargetError, type NodePlan } from '../backend.ts';

export { InvalidTargetError };
import { parseContainerId } from './container-id.ts';
import { apiErrorCode, apiErrorMessage } from './api-error.ts';


/** Words naming what the target asked for, for error messages: `namespace "shop", labelSelector "app=web"`. */
export function describeTarget(target: KubernetesTarget): string {
  const parts = [`namespace ${JSON.stringify(target.namespace)}`];
  if (target.labelSelector) parts.push(`labelSelector ${JSON.stringify(target.labelSelector)}`);
  if (target.podName) parts.push(`podName ${JSON.stringify(target.podName)}`);
  if (target.containerName) parts.push(`containerName ${JSON.stringify(target.containerName)}`);
  if (target.nodeName) parts.push(`nodeName ${JSON.stringify(target.nodeName)}`);
  return parts.join(', ');
}

/** Field selector the apiserver filters pods with (phase, name, node). */
export function podFieldSelector(target: KubernetesTarget): string {
  // A startup trace also waits on pods whose containers have not started yet (Pending on a node).
  const parts = target.startup ? ['status.phase!=Succeeded', 'status.phase!=Failed'] : ['status.phase=Running'];
  if (target.podName) parts.push(`metadata.name=${target.podName}`);
  if (target.nodeName) parts.push(`spec.nodeName=${target.nodeName}`);
  return parts.join(',');
}

function isTerminating(pod: V1Pod): boolean {
  return Boolean(pod.metadata?.deletionTimestamp);
}

/**
 * Groups the running containers of `pods` by node. Pods that are not Running, are being deleted,
 * are not bound to a node, or do not match the target's filters are left out; so are containers
 * that are not running or have no id yet. Nodes and containers come out sorted (stable plans).
 * Without a containerName filter, each node's plan also names its pods, so that the runner's
 * rescan follows a container that restarts (new id) or starts during the trace.
 */
export function plansFromPods(pods: readonly V1Pod[], target: KubernetesTarget): NodePlan[] {
  if (target.startup) return startupPlansFromPods(pods, target);
  const byNode = new Map<string, ContainerTarget[]>();
  const podsByNode = new Map<string, Map<string, PodTarget>>();
  for (const pod of pods) {
    const node = pod.spec?.nodeName;
    const meta = pod.metadata;
    if (!node || !meta?.name || pod.status?.phase !== 'Running' || isTerminating(pod)) continue;
    if (target.podName && meta.name !== target.podName) continue;
    if (target.nodeName && node !== target.nodeName) continue;
    if (meta.namespace && meta.namespace !== target.namespace) continue;
    for (const status of pod.status.containerStatuses ?? []) {
      if (target.containerName && status.name !== target.containerName) continue;
      if (!status.state?.running) continue;
      const parsed = parseContainerId(status.containerID);
      if (!parsed) continue;
      const container: ContainerTarget = {
        containerId: parsed.id,
        runtime: parsed.runtime,
        pod: meta.name,
        namespace: meta.namespace ?? target.namespace,
        container: status.name,
      };
      if (meta.uid) container.podUid = meta.uid;
      const list = byNode.get(node) ?? [];
      list.push(container);
      byNode.set(node, list);
      if (meta.uid && !target.containerName) {
        const nodePods = podsByNode.get(node) ?? new Map<string, PodTarget>();
        nodePods.set(meta.uid, { podUid: meta.uid, pod: meta.name, namespace: container.namespace! });
        podsByNode.set(node, nodePods);
      }
    }
  }
  return [...byNode.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([node, containers]) => {
      const plan: NodePlan = {
        node,
        targets: { containers: containers.sort((a, b) => `${a.pod}/${a.container}`.localeCompare(`${b.pod}/${b.container}`)) },
      };
      const nodePods = podsByNode.get(node);
      if (nodePods) plan.targets.pods = [...nodePods.values()].sort((a, b) => (a.pod ?? '').localeCompare(b.pod ?? ''));
      return plan;
    });
}

/**
 * Plans of a startup trace: every pod of the target bound to a node (Running, e.g. in
 * CrashLoopBackOff, or Pending), whatever its containers do now; the runner filters on the pods'
 * own cgroups and waits for the next container start.
 */
export function startupPlansFromPods(pods: readonly V1Pod[], target: KubernetesTarget): NodePlan[] {
  const byNode = new Map<string, PodTarget[]>();
  for (const pod of pods) {
    const node = pod.spec?.nodeName;
    const meta = pod.metadata;
    const phase = pod.status?.phase;
    if (!node || !meta?.name || !meta.uid || (phase !== 'Running' && phase !== 'Pending') || isTerminating(pod)) continue;
    if (target.podName && meta.name !== target.podName) continue;
    if (target.nodeName && node !== target.nodeName) continue;
    if (meta.namespace && meta.namespace !== target.namespace) continue;
    const list = byNode.get(node) ?? [];
    list.push({ podUid: meta.uid, pod: meta.name, namespace: meta.namespace ?? target.namespace });
    byNode.set(node, list);
  }
  const timeoutSeconds = target.startupTimeoutSeconds ?? DEFAULT_STARTUP_TIMEOUT_SECONDS;
  return [...byNode.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([node, list]) => ({ node, targets: { pods: list.sort((a, b) => (a.pod ?? '').localeCompare(b.pod ?? '')), startup: { timeoutSeconds } } }));
}

/** Lists the target's running pods (one page of `pageSize` at a time) and groups them by node. */
export async function resolveKubernetesTargets(core: CoreV1Api, target: KubernetesTarget, pageSize = 500): Promise<NodePlan[]> {
  if (!target.namespace) throw new InvalidTargetError('target.namespace', 'target.namespace is required');
  const pods: V1Pod[] = [];
  let continueToken: string | undefined;
  do {
    try {
      const page = await core.listNamespacedPod({
        namespace: target.namespace,
        labelSelector: target.labelSelector || undefined,
        fieldSelector: podFieldSelector(target),
        limit: pageSize,
        _continue: continueToken,
      });
      pods.push(...page.items);
      continueToken = page.metadata?._continue || undefined;
    } catch (err) {
      if (apiErrorCode(err) === 400) {
        const field = target.labelSelector ? 'target.labelSelector' : 'target';
        throw new InvalidTargetError(field, `invalid ${field}: ${apiErrorMessage(err)}`);
      }
      throw err;
    }
  } while (continueToken);
  const plans = plansFromPods(pods, target);
  if (plans.length === 0) {
    const what = target.startup ? 'pod on a node' : target.containerName ? 'running pod with a running container named ' + JSON.stringify(target.containerName) : 'running pod';
    throw new NoMatchingTargetError(`no ${what} matches ${describeTarget(target)}`);
  }
  return plans;
}
