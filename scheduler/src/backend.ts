import type { NodeJobSpec, NodePlan, TraceTarget } from '../../contracts/index.ts';

// The backends' vocabulary, declared below the scheduler (contracts/, state/) because the trace
// record and the API use it too; re-exported so backends import it from their interface.
export type { NodePlan } from '../../contracts/index.ts';
export { InvalidTargetError, NoMatchingTargetError } from '../../state/src/target-errors.ts';

/** How one node's runner ended, as the backend saw it (results arrive separately, by upload). */
export interface NodeOutcome {
  node: string;
  status: 'succeeded' | 'failed' | 'cancelled';
  exitCode?: number;
  /** Why the node failed, in words a user can act on (e.g. "pod unschedulable: 0/3 nodes ..."). */
  error?: string;
  /**
   * The node itself was lost (NotReady, deleted, its pod given up): its runner could not say how it
   * ended, so a result it uploaded before still counts.
   */
  lost?: boolean;
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
