/**
 * Fastify plugin enforcing authentication and authorization on every /v1 route:
 * - onRequest: bearer API token / Kubernetes token → `req.principal` (401 when missing/invalid);
 *   the runner upload route (upload token) and `publicRoutes` (chat-ops, own signature) are exempt;
 * - preHandler, POST /v1/traces: namespace/local, gadget, duration by policy (403), optional
 *   SubjectAccessReview `get pods` in the target namespace (403); Idempotency-Key scoped per caller;
 * - preHandler, every /v1/traces/:id… route: 404 when the trace's namespace is not visible;
 * - preSerialization, GET /v1/traces: items the caller may not see are left out.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ForbiddenError, NotFoundError, UnauthorizedError, UnavailableError } from '../errors.ts';
import type { AuthConfig } from './access-policy.ts';
import { AuthenticationError, type Authenticator } from './authenticator.ts';
import type { KubernetesReviewer } from './kubernetes-reviews.ts';
import { mayCreateTrace, maySeeTrace, targetNamespace } from './policy.ts';
import { isRunnerRoute, isTraceScopedRoute, ROUTES } from './request-context.ts';

export interface TraceTargetReader {
  /** The trace's spec (target), or undefined when there is no such trace. */
  get(id: string): Promise<{ spec: { target: unknown; gadget?: string } } | undefined>;
}

export interface AccessControlOptions {
  auth: AuthConfig;
  authenticator: Authenticator;
  reviewer?: KubernetesReviewer;
  traces: TraceTargetReader;
  defaultDurationSeconds: number;
  /** Route patterns that authenticate by other means (e.g. the Slack signature of chat-ops). */
  publicRoutes?: readonly string[];
}

function needsBearer(req: FastifyRequest, publicRoutes: readonly string[]): boolean {
  const url = req.routeOptions.url;
  if (isRunnerRoute(url) || (url !== undefined && publicRoutes.includes(url))) return false;
  return req.url.startsWith('/v1/') || req.url === '/v1';
}

export async function accessControl(app: FastifyInstance, opts: AccessControlOptions): Promise<void> {
  const publicRoutes = opts.publicRoutes ?? [];
  app.decorateRequest('principal', null);
  app.decorateRequest('tracejobAudit', null);

  app.addHook('onRequest', async (req) => {
    req.tracejobAudit = {};
    if (!needsBearer(req, publicRoutes)) return;
    try {
      req.principal = await opts.authenticator.authenticate(req.headers.authorization);
    } catch (err) {
      if (err instanceof AuthenticationError) {
        req.tracejobAudit.reason = err.message;
        if (err.kind === 'no-policy') throw new ForbiddenError(err.message);
        throw new UnauthorizedError(err.message);
      }
      req.log.error({ err }, 'authentication backend failed');
      throw new UnavailableError('authentication is unavailable (the Kubernetes API server did not answer); retry later');
    }
  });

  app.addHook('preHandler', async (req) => {
    const principal = req.principal;
    if (!principal) return;
    const url = req.routeOptions.url;
    const audit = req.tracejobAudit ?? (req.tracejobAudit = {});
    if (url === ROUTES.traces && req.method === 'POST') {
      const body = req.body as { gadget: string; durationSeconds?: number; target: Record<string, unknown> };
      audit.target = body.target;
      audit.gadget = body.gadget;
      const decision = mayCreateTrace(principal.policy, body, opts.defaultDurationSeconds);
      if (!decision.allowed) {
        audit.reason = decision.reason;
        throw new ForbiddenError(decision.reason, decision.field);
      }
      const ns = targetNamespace(body.target);
      if (ns !== undefined && principal.kubernetesUser && opts.auth.kubernetes?.subjectAccessReview && opts.reviewer) {
        let allowed: boolean;
        try {
          allowed = await opts.reviewer.mayAccess(principal.kubernetesUser, ns, 'get', 'pods');
        } catch (err) {
          req.log.error({ err }, 'SubjectAccessReview failed');
          throw new UnavailableError('authorization is unavailable (SubjectAccessReview failed); retry later');
        }
        if (!allowed) {
          audit.reason = `Kubernetes denies ${principal.kubernetesUser.username} get pods in ${ns}`;
          throw new ForbiddenError(`${principal.kubernetesUser.username} may not get pods in namespace ${JSON.stringify(ns)}`, 'target.namespace');
        }
      }
      // Idempotency keys are per caller: another caller's key neither replays nor reveals its trace.
      const key = req.headers['idempotency-key'];
      if (typeof key === 'string' && principal.via !== 'open') req.headers = { ...req.headers, 'idempotency-key': `${principal.name}/${key}` };
      return;
    }
    if (isTraceScopedRoute(url)) {
      const id = (req.params as { id?: string }).id;
      if (!id) return;
      audit.traceId = id;
      const rec = await opts.traces.get(id);
      if (!rec) return; // the route answers its own 404
      audit.target = rec.spec.target;
      if (rec.spec.gadget) audit.gadget = rec.spec.gadget;
      if (!maySeeTrace(principal.policy, rec.spec.target as Record<string, unknown>)) {
        audit.reason = `trace is outside ${principal.policy.name}'s namespaces`;
        throw new NotFoundError(`no trace ${id} (it may have expired)`);
      }
    }
  });

  app.addHook('preSerialization', async (req, _reply, payload) => {
    const principal = req.principal;
    if (!principal || req.method !== 'GET' || req.routeOptions.url !== ROUTES.traces) return payload;
    const page = payload as { items?: { target?: Record<string, unknown> }[] } | null;
    if (!page || !Array.isArray(page.items)) return payload;
    return { ...page, items: page.items.filter((t) => t.target !== undefined && maySeeTrace(principal.policy, t.target)) };
  });
}
