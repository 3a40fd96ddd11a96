/** The JSON shapes the CLI reads from the API (a subset of what the API sends). */
import type { BlockioSummary, NodeState, ProfileSummary, TcpdropSummary, TopEntry, TraceStatus } from '../contracts/index.ts';

/** A node of a trace as the API shows it: its state plus whether its result was uploaded. */
export type NodeView = NodeState & { uploaded?: boolean };

export interface TraceView {
  id: string;
  status: TraceStatus;
  gadget: string;
  durationSeconds: number;
  target: Record<string, unknown>;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  error?: string;
  nodes: NodeView[];
  counts: { events: number; lostEvents: number };
}

/** `event: status` of GET /v1/traces/:id/watch. */
export interface WatchStatus {
  id: string;
  status: TraceStatus;
  gadget: string;
  durationSeconds: number;
  startedAt?: string;
  finishedAt?: string;
  elapsedSeconds: number;
  error?: string;
  nodes: NodeView[];
  counts: { events: number; lostEvents: number; nodesTracing: number; nodesDone: number; nodesTotal: number };
}

/** `event: summary` of the watch stream: the trace's summary merged across nodes. */
export interface TraceSummary {
  events: number;
  lostEvents: number;
  truncated: boolean;
  perNode: { node: string; events: number; lostEvents: number; truncated: boolean; stopReason?: string; error?: string }[];
  top: Record<string, TopEntry[]>;
  /** `profile` traces: samples and top functions. */
  profile?: ProfileSummary;
  /** `blockio` traces: latency histograms per disk and operation, top processes. */
  blockio?: BlockioSummary;
  /** `tcpdrop` traces: drops per reason, top (reason, flow, owner) rows. */
  tcpdrop?: TcpdropSummary;
}

export interface GadgetView {
  name: string;
  description: string;
  topFields: string[];
  fields: { name: string; type: string }[];
}

/** A schedule as GET /v1/schedules[/:id] shows it. */
export interface ScheduleView {
  id: string;
  owner: string;
  trace: { gadget: string; durationSeconds: number; target: Record<string, unknown> };
  every?: string;
  cron?: string;
  timeZone?: string;
  keepRuns: number;
  createdAt: string;
  nextRunAt?: string;
  runs?: { traceId: string; status?: string; createdAt?: string }[];
}
