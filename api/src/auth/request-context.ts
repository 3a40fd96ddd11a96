/**
 * What the security plugins learn about a request and share: the principal (auth), and the
 * audit record's target, trace id and refusal reason (filled by auth, limits and the routes'
 * answers; written by the audit plugin).
 */
import type { SlotScope } from '../../../state/src/concurrency-slots.ts';
import type { Principal } from './policy.ts';

/** One alert of an Alertmanager notification and what became of it (alerts/alertmanager-hook.ts). */
export interface AlertAuditDecision {
  fingerprint: string;
  alertname?: string;
  rule?: string;
  decision: string;
  traceId?: string;
  reason?: string;
}

export interface AuditContext {
  traceId?: string;
  target?: unknown;
  gadget?: string;
  reason?: string;
  /** Set by the Alertmanager webhook: one audit line per alert. */
  alertDecisions?: AlertAuditDecision[];
  /** Set by the schedule routes. */
  scheduleId?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the access-control plugin on every authenticated route. */
    principal: Principal | null;
    tracejobAudit: AuditContext | null;
    /** Set by the limits plugin on a principal's POST: the slots a trace it starts takes (a trace, an alert, a schedule). */
    traceSlotScopes: SlotScope[] | null;
  }
}

/** Route patterns (Fastify `routeOptions.url`). */
export const ROUTES = {
  traces: '/v1/traces',
  trace: '/v1/traces/:id',
  upload: '/v1/traces/:id/nodes/:node/result',
  progress: '/v1/traces/:id/nodes/:node/progress',
  alertmanager: '/v1/hooks/alertmanager',
  schedules: '/v1/schedules',
  schedule: '/v1/schedules/:id',
} as const;

/** The routes a runner calls with its node's upload token instead of a user's bearer token. */
export function isRunnerRoute(url: string | undefined): boolean {
  return url === ROUTES.upload || url === ROUTES.progress;
}

/** Routes about one trace whose visibility depends on its namespace (everything under /v1/traces/:id but the runner routes). */
export function isTraceScopedRoute(url: string | undefined): boolean {
  return url !== undefined && (url === ROUTES.trace || url.startsWith(`${ROUTES.trace}/`)) && !isRunnerRoute(url);
}
