import type { GadgetName } from './gadgets.ts';

/** Target of a trace on Kubernetes. */
export interface KubernetesTarget {
  namespace: string;
  labelSelector?: string;
  podName?: string;
  containerName?: string;
  nodeName?: string;
}

/** Target of a trace on the local machine (all-in-one mode). */
export interface LocalTarget {
  containerIds?: string[];
  pids?: number[];
  cgroupPaths?: string[];
}

export type TraceTarget = KubernetesTarget | LocalTarget;

export function isKubernetesTarget(t: TraceTarget): t is KubernetesTarget {
  return typeof (t as KubernetesTarget).namespace === 'string';
}

/** A validated trace request, as queued. */
export interface TraceSpec {
  gadget: GadgetName;
  durationSeconds: number;
  target: TraceTarget;
  params: Record<string, unknown>;
  limits: { maxEvents: number };
  callbackUrl?: string;
}
