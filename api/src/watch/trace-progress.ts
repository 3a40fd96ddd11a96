/**
 * What the watch stream, the Slack follow-up and the completion callbacks say about a trace:
 * a status snapshot (pure) and the trace's summary merged from its nodes' summaries.
 */
import { isTerminal, type NodeStatus, type TraceStatus } from '../../../contracts/index.ts';
import type { NodeView, TraceRecord } from '../../../state/src/trace-store.ts';
import { mergeNodeSummaries, type MergedSummary } from '../store/merge-summaries.ts';
import type { ResultStore } from '../store/result-store.ts';

export interface TraceProgress {
  id: string;
  status: TraceStatus;
  gadget: string;
  durationSeconds: number;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Seconds since the trace started running (0 while queued; frozen once finished). */
  elapsedSeconds: number;
  cancelRequested: boolean;
  error?: string;
  nodes: NodeView[];
  /** nodesTracing: nodes whose gadget is attached (or was: it counts the nodes that have traced). */
  counts: { events: number; lostEvents: number; nodesTracing: number; nodesDone: number; nodesTotal: number };
}

const NODE_DONE: ReadonlySet<NodeStatus> = new Set(['succeeded', 'failed', 'cancelled']);

/** Snapshot of a trace record; `plannedNodes` is how many runners the scheduler planned, when known. */
export function traceProgressOf(rec: TraceRecord, plannedNodes: number | undefined, now: Date): TraceProgress {
  const started = rec.startedAt ? Date.parse(rec.startedAt) : undefined;
  const end = rec.finishedAt ? Date.parse(rec.finishedAt) : now.getTime();
  const elapsedSeconds = started === undefined ? 0 : Math.max(0, Math.round((end - started) / 100) / 10);
  const p: TraceProgress = {
    id: rec.id,
    status: rec.status,
    gadget: rec.spec.gadget,
    durationSeconds: rec.spec.durationSeconds,
    createdAt: rec.createdAt,
    elapsedSeconds,
    cancelRequested: rec.cancelRequested,
    nodes: rec.nodes,
    counts: {
      events: rec.nodes.reduce((n, s) => n + s.events, 0),
      lostEvents: rec.nodes.reduce((n, s) => n + s.lostEvents, 0),
      nodesTracing: rec.nodes.filter((n) => n.tracingSince !== undefined).length,
      nodesDone: rec.nodes.filter((n) => NODE_DONE.has(n.status)).length,
      nodesTotal: Math.max(plannedNodes ?? 0, rec.nodes.length),
    },
  };
  if (rec.startedAt) p.startedAt = rec.startedAt;
  if (rec.finishedAt) p.finishedAt = rec.finishedAt;
  if (rec.error) p.error = rec.error;
  return p;
}

/** The trace's summary: counts and top-N merged across the summaries its nodes uploaded. */
export async function loadTraceSummary(results: ResultStore, traceId: string, topN = 10): Promise<MergedSummary> {
  const nodes = await results.nodes(traceId);
  const summaries = [];
  for (const node of nodes) {
    const s = await results.readSummary(traceId, node);
    if (s) summaries.push(s);
  }
  return mergeNodeSummaries(traceId, summaries, topN);
}

export interface TraceReader {
  get(id: string): Promise<TraceRecord | undefined>;
  plans?(id: string): Promise<unknown[] | undefined>;
}

/**
 * Resolves with the trace record once it has a final status (polling the trace store), or
 * undefined if the trace disappears or `signal` aborts.
 */
export async function waitForTraceEnd(traces: TraceReader, id: string, opts: { pollMs?: number; signal?: AbortSignal } = {}): Promise<TraceRecord | undefined> {
  const pollMs = opts.pollMs ?? 500;
  for (;;) {
    if (opts.signal?.aborted) return undefined;
    const rec = await traces.get(id);
    if (!rec) return undefined;
    if (isTerminal(rec.status)) return rec;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, pollMs);
      opts.signal?.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });
  }
}
