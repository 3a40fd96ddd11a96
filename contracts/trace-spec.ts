import type { GadgetName } from './gadgets.ts';

/** Target of a trace on Kubernetes. */
export interface KubernetesTarget {
  namespace: string;
  labelSelector?: string;
  podName?: string;
  containerName?: string;
  nodeName?: string;
  /** Wait for the next start of a container of the target pods and trace it from its first instruction. */
  startup?: boolean;
  /** How long to wait for that start (default 300). */
  startupTimeoutSeconds?: number;
}

/** Target of a trace on the local machine (all-in-one mode). */
export interface LocalTarget {
  containerIds?: string[];
  pids?: number[];
  cgroupPaths?: string[];
  /** Wait for the next process started in a new cgroup below `cgroupPaths` and trace it from its first instruction. */
  startup?: boolean;
  startupTimeoutSeconds?: number;
}

/** Default of `target.startupTimeoutSeconds`. */
export const DEFAULT_STARTUP_TIMEOUT_SECONDS = 300;

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
  /** What started the trace when no one asked for it directly. */
  trigger?: TraceTrigger;
}

/** An alert that started a trace (Alertmanager webhook), named in the trace, its callback and its Slack summary. */
export interface AlertTrigger {
  kind: 'alert';
  rule: string;
  fingerprint: string;
  alertname?: string;
  labels: Record<string, string>;
  startsAt?: string;
  generatorURL?: string;
}

/** A schedule whose run this trace is. */
export interface ScheduleTrigger {
  kind: 'schedule';
  scheduleId: string;
  /** When the run was due (ISO). */
  dueAt?: string;
}

export type TraceTrigger = AlertTrigger | ScheduleTrigger;
