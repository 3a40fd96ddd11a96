/**
 * A watch on the pods of one label selector (in one namespace or all) that survives reconnects,
 * 410 Gone and apiserver errors: an ObjectWatch of pods.
 */
import { CoreV1Api, type KubeConfig, type V1Pod } from './kubernetes-client.ts';
import { ObjectWatch, type WatchEventType, type WatchStats } from './object-watch.ts';

export type PodEventType = WatchEventType;
export type PodWatchStats = WatchStats;

export interface PodWatchOptions {
  kubeConfig: KubeConfig;
  /** Undefined: pods of every namespace. */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  onPod: (type: PodEventType, pod: V1Pod) => void;
  /** Called on errors the watch recovers from (logged by the caller). */
  onRecoverableError?: (err: unknown) => void;
  /** Server-side timeout of each watch request; the watch then reconnects. */
  timeoutSeconds?: number;
  /** Resume from this resourceVersion instead of listing first (e.g. a version saved earlier). */
  startResourceVersion?: string;
  /** Delay before reconnecting after an error, doubled up to 5 s. */
  retryDelayMs?: number;
}

export class PodWatch extends ObjectWatch<V1Pod> {
  constructor(opts: PodWatchOptions) {
    const core = opts.kubeConfig.makeApiClient(CoreV1Api);
    const ns = opts.namespace;
    super({
      kubeConfig: opts.kubeConfig,
      path: ns === undefined ? '/api/v1/pods' : `/api/v1/namespaces/${encodeURIComponent(ns)}/pods`,
      list: (query) => (ns === undefined ? core.listPodForAllNamespaces(query) : core.listNamespacedPod({ namespace: ns, ...query })),
      // Pods of every namespace are known as `namespace/name`.
      key: (pod) => (pod.metadata?.name ? (ns === undefined ? `${pod.metadata.namespace ?? ''}/${pod.metadata.name}` : pod.metadata.name) : undefined),
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      onObject: opts.onPod,
      onRecoverableError: opts.onRecoverableError,
      timeoutSeconds: opts.timeoutSeconds,
      startResourceVersion: opts.startResourceVersion,
      retryDelayMs: opts.retryDelayMs,
    });
  }

  /** Pods currently known, by name (`namespace/name` when watching every namespace). */
  pods(): ReadonlyMap<string, V1Pod> {
    return this.objects();
  }
}
