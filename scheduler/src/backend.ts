import type { NodeJobSpec, NodeTargets, TraceTarget } from '../../contracts/index.ts';

/** The runners to start for one trace: one per node, with that node's targets. */
export interface NodePlan {
  node: string;
  targets: NodeTargets;
}

/** How one node's runner ended, as the backend saw it (results arrive separately, by upload). */
export interface NodeOutcome {
  node: string;
  status: 'succeeded' | 'failed' | 'cancelled';
  exitCode?: number;
  /** Why the node failed, in words a user can act on (e.g. "pod unschedulable: 0/3 nodes ..."). */
  error?: string;
}

export interface RunContext {
  /** Aborted when the trace is cancelled: runners are told to stop and still upload what they saw. */
  signal: AbortSignal;
  /** Called when a node's runner is running (started), so the trace can show per-node progress. */
  onNodeRunning(node: string): void;
}

/**
 * Where runners run. `local`: child processes on this machine. `kubernetes`: one pod per node.
 * Implementations must be idempotent per (traceId, node): a scheduler that restarts mid-trace
 * calls `run` again for the same jobs and must adopt runners that already exist, never start a
 * second one for the same node.
 */
export interface RunnerBackend {
  readonly kind: 'local' | 'kubernetes';
  /** Resolve a request's target into per-node plans. Throws NoMatchingTargetError when nothing matches. */
  resolveTargets(target: TraceTarget): Promise<NodePlan[]>;
  /** Run one runner per job until all have ended; resolves with one outcome per job. */
  run(jobs: NodeJobSpec[], ctx: RunContext): Promise<NodeOutcome[]>;
  /** Delete leftovers of traces that are not in `activeTraceIds` (pods, secrets, processes, files). */
  sweep(activeTraceIds: ReadonlySet<string>): Promise<number>;
  close(): Promise<void>;
}

/** Nothing matches the target: the API answers 422 with this message. */
export class NoMatchingTargetError extends Error {
  override readonly name = 'NoMatchingTargetError';
}

/** The target is malformed in a way only the backend can tell (e.g. a label selector the apiserver refuses): 400 naming `field`. */
export class InvalidTargetError extends Error {
  override readonly name = 'InvalidTargetError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}
