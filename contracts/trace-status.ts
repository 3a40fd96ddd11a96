export const TRACE_STATUSES = ['queued', 'running', 'succeeded', 'partial', 'failed', 'cancelled'] as const;
export type TraceStatus = (typeof TRACE_STATUSES)[number];

export const NODE_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

export interface NodeState {
  node: string;
  status: NodeStatus;
  /** Events kept on the node: live counts while it traces (from its progress reports), then the uploaded result's. */
  events: number;
  /** Events the kernel could not deliver (ring buffer full), likewise live, then final. */
  lostEvents: number;
  truncated?: boolean;
  stopReason?: string;
  error?: string;
  /** When the runner (process or pod) started. */
  startedAt?: string;
  /** When the gadget was attached and filtering on this node: from then on the node's targets are traced. */
  tracingSince?: string;
  /** When the runner last reported its live counts. */
  progressAt?: string;
  finishedAt?: string;
}

/** What a runner reports about once a second while it traces (PUT …/nodes/:node/progress). */
export interface NodeProgress {
  tracingSince: string;
  events: number;
  lostEvents: number;
}

/** The API's answer to a progress report: the runner stops (stop reason `cancelled`) when asked to. */
export interface NodeProgressAnswer {
  cancelRequested: boolean;
}

export function isTerminal(status: TraceStatus): boolean {
  return status === 'succeeded' || status === 'partial' || status === 'failed' || status === 'cancelled';
}

/**
 * Trace status from its nodes' states once every node is done. A trace is `succeeded` only when
 * every node succeeded and no node lost an event; lost events make it `partial` (lossReason says
 * why), so a lossy result never looks clean.
 */
export function overallStatus(nodes: readonly NodeState[], cancelled: boolean): TraceStatus {
  if (cancelled) return 'cancelled';
  if (nodes.length === 0) return 'failed';
  const ok = nodes.filter((n) => n.status === 'succeeded').length;
  if (ok === 0) return 'failed';
  if (ok === nodes.length && lostEventsOf(nodes) === 0) return 'succeeded';
  return 'partial';
}

export function lostEventsOf(nodes: readonly Pick<NodeState, 'lostEvents'>[]): number {
  return nodes.reduce((sum, n) => sum + (n.lostEvents ?? 0), 0);
}

/** "node a lost 12 events, node b lost 3 events", or undefined when nothing was lost. */
export function lossReason(nodes: readonly Pick<NodeState, 'node' | 'lostEvents'>[]): string | undefined {
  const lossy = nodes.filter((n) => n.lostEvents > 0);
  if (lossy.length === 0) return undefined;
  const parts = lossy.map((n) => `${n.node} lost ${n.lostEvents} event${n.lostEvents === 1 ? '' : 's'}`);
  return `${parts.join(', ')} (the kernel's ring buffer was full: the result is incomplete)`;
}
