import type { GadgetName } from './gadgets.ts';
import type { BlockioSummary, TcpdropSummary } from './gadget-tables.ts';
import type { ProfileSummary } from './profile.ts';

/** A container to trace on one node, as the scheduler resolved it. */
export interface ContainerTarget {
  /** Bare container id (no `containerd://` prefix). */
  containerId: string;
  runtime?: 'containerd' | 'cri-o' | 'docker' | 'unknown';
  podUid?: string;
  pod?: string;
  namespace?: string;
  container?: string;
}

/** A pod whose containers (including ones started during the trace) are traced. */
export interface PodTarget {
  podUid: string;
  pod?: string;
  namespace?: string;
}

export interface NodeTargets {
  containers?: ContainerTarget[];
  pods?: PodTarget[];
  /** cgroup v2 directories, absolute or relative to the cgroup v2 mount. */
  cgroupPaths?: string[];
  pids?: number[];
  /** Trace the whole node with no cgroup filter (all-in-one/local use only). */
  allCgroups?: boolean;
  /**
   * Trace the next container start: the pods' (or cgroupPaths') own cgroups go in the kernel filter
   * with an ancestor check, so a container created below them later is traced from its first
   * instruction; the runner waits up to `timeoutSeconds` for it, then traces for the duration.
   */
  startup?: { timeoutSeconds: number };
}

/** Seconds a runner may live: the startup wait (when there is one) plus the trace's duration. */
export function runnerBudgetSeconds(job: { durationSeconds: number; targets: { startup?: { timeoutSeconds: number } } }): number {
  return job.durationSeconds + (job.targets.startup?.timeoutSeconds ?? 0);
}

/** The runner to start for one node of a trace: the node and that node's targets (kept on the trace record while it runs). */
export interface NodePlan {
  node: string;
  targets: NodeTargets;
}

export interface UploadTarget {
  /** Full URL of the node's upload endpoint: PUT <url> with the result tar.gz. */
  url: string;
  /** Bearer token valid only for this trace and node. */
  token: string;
  /** URL of the node's progress endpoint: PUT <progressUrl> with a NodeProgress (JSON), same token. */
  progressUrl?: string;
}

/** What one runner is asked to do: one trace on one node. */
export interface NodeJobSpec {
  traceId: string;
  node: string;
  gadget: GadgetName;
  params: Record<string, unknown>;
  durationSeconds: number;
  /** Stop after this many events on this node. */
  maxEvents: number;
  /** Cap on the size of events.ndjson in bytes; past it the runner stops writing and marks the result truncated. */
  maxResultBytes?: number;
  targets: NodeTargets;
  upload?: UploadTarget;
}

/**
 * The name a runner gives its main thread (/proc/<pid>/comm, 15 characters at most) once its
 * signal handlers are in place: before that, a signal would kill it (bin/tracejob-runner.js).
 */
export const RUNNER_PROCESS_NAME = 'tracejob-runner';

export const STOP_REASONS = ['deadline', 'max-events', 'max-bytes', 'signal', 'cancelled', 'error'] as const;
export type StopReason = (typeof STOP_REASONS)[number];

export interface TopEntry {
  value: string;
  count: number;
}

export interface ContainerCount {
  cgroupId: number;
  namespace?: string;
  pod?: string;
  container?: string;
  events: number;
}

export interface TargetNotFound {
  /** The target as the user named it (container id, pod uid, cgroup path, pid). */
  target: string;
  reason: string;
}

/** The container start a startup trace saw: the first event of a cgroup created below a target. */
export interface ContainerStart {
  /** Wall-clock time of that first event (ISO). */
  at: string;
  cgroupId: number;
  cgroupPath?: string;
  containerId?: string;
  namespace?: string;
  pod?: string;
  pid: number;
  comm: string;
}

export interface StartupObservation {
  timeoutSeconds: number;
  /** Seconds from the gadget's attach to the start (or to the timeout). */
  waitedSeconds: number;
  /** Absent when nothing started before the timeout. */
  start?: ContainerStart;
  /** Events of cgroups that existed already, seen while waiting: not recorded. */
  eventsBeforeStart: number;
}

/** summary.json of one node's result. */
export interface NodeSummary {
  traceId: string;
  node: string;
  gadget: GadgetName;
  startedAt: string;
  stoppedAt: string;
  stopReason: StopReason;
  events: number;
  /** Events the kernel could not deliver (ring-buffer reserve failures). */
  lostEvents: number;
  /** True when events were dropped in user space because of maxEvents/maxResultBytes. */
  truncated: boolean;
  perContainer: ContainerCount[];
  /** Top-N values per gadget field, e.g. {"comm": [...], "filename": [...]}. */
  top: Record<string, TopEntry[]>;
  targetsNotFound: TargetNotFound[];
  cgroupIds: number[];
  error?: string;
  versions?: Record<string, string>;
  /** The `profile` gadget's CPU samples: top functions overall and per container. */
  profile?: ProfileSummary;
  /** The `blockio` gadget's tables: latency histogram per disk and operation, top processes. */
  blockio?: BlockioSummary;
  /** The `tcpdrop` gadget's tables: drops per reason, top (reason, flow, owner) rows. */
  tcpdrop?: TcpdropSummary;
  /** Startup traces: which container start was traced. */
  startup?: StartupObservation;
}

/** Runner exit codes. */
export const RUNNER_EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  uploadFailed: 3,
  noTargets: 4,
} as const;
