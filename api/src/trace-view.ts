/** The public JSON of a trace (GET /v1/traces/:id and list items). */
import type { TraceRecord } from '../../state/src/trace-store.ts';

export function traceLinks(id: string) {
  const self = `/v1/traces/${id}`;
  return { self, events: `${self}/events`, bundle: `${self}/bundle` };
}

export function traceView(rec: TraceRecord) {
  const view = {
    id: rec.id,
    status: rec.status,
    gadget: rec.spec.gadget,
    durationSeconds: rec.spec.durationSeconds,
    target: rec.spec.target,
    params: rec.spec.params,
    limits: rec.spec.limits,
    callbackUrl: rec.spec.callbackUrl,
    trigger: rec.spec.trigger,
    createdAt: rec.createdAt,
    startedAt: rec.startedAt,
    finishedAt: rec.finishedAt,
    cancelRequested: rec.cancelRequested,
    error: rec.error,
    nodes: rec.nodes,
    counts: {
      events: rec.nodes.reduce((n, s) => n + s.events, 0),
      lostEvents: rec.nodes.reduce((n, s) => n + s.lostEvents, 0),
    },
    tracing: { nodes: rec.nodes.filter((n) => n.tracingSince !== undefined).length, of: rec.nodes.length },
    links: traceLinks(rec.id),
  };
  return view;
}
