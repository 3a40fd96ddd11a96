/**
 * The audit log: one structured line per trace request, cancellation, result download and
 * upload, and per refusal anywhere (401, 403, 404 of a trace, 409, 413, 429):
 * `{audit: true, who, action, traceId, target, decision, reason, status}`.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isRunnerRoute, isTraceScopedRoute, ROUTES } from '../auth/request-context.ts';

export type AuditAction =
  | 'trace.create'
  | 'trace.cancel'
  | 'trace.read'
  | 'trace.list'
  | 'result.download'
  | 'result.upload'
  | 'alert.notify'
  | 'alert.trigger'
  | 'schedule.create'
  | 'schedule.delete'
  | 'schedule.read'
  | 'schedule.list'
  | 'request';

export interface AuditRecord {
  audit: true;
  who: string;
  action: AuditAction;
  traceId?: string;
  target?: unknown;
  gadget?: string;
  decision: 'allow' | 'deny';
  reason?: string;
  status: number;
  /** alert.trigger: the alert and what became of it (started, duplicate, resolved, no-rule, …). */
  alert?: { fingerprint: string; alertname?: string; rule?: string; outcome: string };
  scheduleId?: string;
  method: string;
  route: string;
}

export interface AuditSink {
  info(obj: object, msg: string): void;
}

export function auditActionOf(method: string, route: string | undefined): AuditAction {
  if (route === ROUTES.traces) return method === 'POST' ? 'trace.create' : 'trace.list';
  if (route === ROUTES.alertmanager) return 'alert.notify';
  if (route === ROUTES.schedules) return method === 'POST' ? 'schedule.create' : 'schedule.list';
  if (route === ROUTES.schedule) return method === 'DELETE' ? 'schedule.delete' : 'schedule.read';
  if (route === ROUTES.upload) return 'result.upload';
  if (route === ROUTES.trace && method === 'DELETE') return 'trace.cancel';
  if (route === `${ROUTES.trace}/bundle` || route === `${ROUTES.trace}/events`) return 'result.download';
  if (isTraceScopedRoute(route)) return 'trace.read';
  return 'request';
}

const ALWAYS: ReadonlySet<AuditAction> = new Set(['trace.create', 'trace.cancel', 'result.download', 'result.upload', 'alert.notify', 'schedule.create', 'schedule.delete']);
const REFUSALS = new Set([401, 403, 409, 413, 429]);

function shouldAudit(action: AuditAction, status: number): boolean {
  if (ALWAYS.has(action)) return true;
  if (REFUSALS.has(status)) return true;
  return status === 404 && (action === 'trace.read' || action === 'schedule.read' || action === 'schedule.delete');
}

function whoOf(req: FastifyRequest): string {
  if (req.principal) return req.principal.name;
  if (isRunnerRoute(req.routeOptions.url)) return `runner:${(req.params as { node?: string }).node ?? '?'}`;
  return `unauthenticated@${req.ip}`;
}

export interface AuditOptions {
  /** Where audit lines go; default: the request's logger. */
  sink?: AuditSink;
}

export async function auditLog(app: FastifyInstance, opts: AuditOptions = {}): Promise<void> {
  app.addHook('onSend', async (req, reply, payload) => {
    const audit = req.tracejobAudit;
    if (!audit || typeof payload !== 'string') return payload;
    const status = reply.statusCode;
    if (status >= 400 || (status === 202 && req.routeOptions.url === ROUTES.traces)) {
      try {
        const body = JSON.parse(payload) as { id?: unknown; message?: unknown };
        if (status >= 400 && typeof body.message === 'string' && audit.reason === undefined) audit.reason = body.message;
        if (status === 202 && typeof body.id === 'string') audit.traceId = body.id;
      } catch {
        // not JSON: nothing to learn
      }
    }
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url;
    const action = auditActionOf(req.method, route);
    const status = reply.statusCode;
    if (!shouldAudit(action, status)) return;
    const a = req.tracejobAudit ?? {};
    const rec: AuditRecord = {
      audit: true,
      who: whoOf(req),
      action,
      decision: status < 400 ? 'allow' : 'deny',
      status,
      method: req.method,
      route: route ?? req.url.split('?')[0]!.slice(0, 256),
    };
    const traceId = a.traceId ?? (req.params as { id?: string } | undefined)?.id;
    if (typeof traceId === 'string') rec.traceId = traceId.slice(0, 64);
    if (a.target !== undefined) rec.target = a.target;
    if (a.gadget !== undefined) rec.gadget = a.gadget;
    if (a.reason !== undefined && status >= 400) rec.reason = a.reason;
    if (a.scheduleId !== undefined) rec.scheduleId = a.scheduleId;
    const sink = opts.sink ?? req.log;
    sink.info(rec, `audit ${action} ${rec.decision}`);
    // An Alertmanager notification: one more line per alert, with the decision taken on it.
    for (const d of a.alertDecisions ?? []) {
      const line: AuditRecord = {
        audit: true,
        who: rec.who,
        action: 'alert.trigger',
        decision: d.decision === 'started' ? 'allow' : 'deny',
        status,
        method: req.method,
        route: rec.route,
        alert: { fingerprint: d.fingerprint, outcome: d.decision, ...(d.alertname ? { alertname: d.alertname } : {}), ...(d.rule ? { rule: d.rule } : {}) },
      };
      if (d.traceId) line.traceId = d.traceId;
      if (d.reason) line.reason = d.reason;
      sink.info(line, `audit alert.trigger ${d.decision}`);
    }
  });
}
