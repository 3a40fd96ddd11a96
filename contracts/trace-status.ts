export const TRACE_STATUSES = ['queued', 'running', 'succeeded', 'partial', 'failed', 'cancelled'] as const;
export type TraceStatus = (typeof TRACE_STATUSES)[number];

export const NODE_STATUSES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

export interface NodeState {
  node: string;
  status: NodeStatus;
  events: number;
  lostEvents: number;
  truncated?: boolean;
  stopReason?: string;
  error?: string;
  startedAt?: string;
  finishedAt?: string;
}

export function isTerminal(status: TraceStatus): boolean {
  return status === 'succeeded' || status === 'partial' || status === 'failed' || status === 'cancelled';
}

/** Trace status from its nodes' statuses once every node is done. */
export function overallStatus(nodes: readonly NodeState[], cancelled: boolean): TraceStatus {
  if (cancelled) return 'cancelled';
  if (nodes.length === 0) return 'failed';
  const ok = nodes.filter((n) => n.status === 'succeeded').length;
  if (ok === nodes.length) return 'succeeded';
  if (ok === 0) return 'failed';
  return 'partial';
}
