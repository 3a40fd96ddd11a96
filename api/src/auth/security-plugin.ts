/**
 * Everything of issue 6 in one registration: access control, limits and the audit log, in the
 * order their hooks must run. Register it on the app before `ready()`:
 *
 *   await app.register(tracejobSecurity, securityOptionsFor(deps, authConfig));
 *
 * (registered with skip-override so its hooks apply to every route of the app).
 */
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Config } from '../../../state/src/config.ts';
import { auditLog, type AuditSink } from '../audit/audit-plugin.ts';
import { requestLimits } from '../limits/limits-plugin.ts';
import type { AuthConfig } from './access-policy.ts';
import { accessControl, type TraceTargetReader } from './access-control-plugin.ts';
import { createAuthenticator, type Authenticator } from './authenticator.ts';
import { createKubernetesReviewer, type KubernetesReviewer } from './kubernetes-reviews.ts';

export interface SecurityOptions {
  auth: AuthConfig;
  authenticator: Authenticator;
  reviewer?: KubernetesReviewer;
  redis: Redis;
  traces: TraceTargetReader;
  config: Pick<Config, 'defaultDurationSeconds' | 'uploadTokenSecret' | 'retentionSeconds'>;
  publicRoutes?: readonly string[];
  auditSink?: AuditSink;
}

/** Options from the app's dependencies; builds the authenticator (and the Kubernetes reviewer when configured). */
export function securityOptionsFor(
  deps: { config: SecurityOptions['config']; redis: Redis; traces: TraceTargetReader },
  auth: AuthConfig,
  extra: { reviewer?: KubernetesReviewer; publicRoutes?: readonly string[]; auditSink?: AuditSink } = {},
): SecurityOptions {
  const reviewer = extra.reviewer ?? (auth.kubernetes ? createKubernetesReviewer(auth.kubernetes) : undefined);
  const out: SecurityOptions = { auth, authenticator: createAuthenticator(auth, reviewer), redis: deps.redis, traces: deps.traces, config: deps.config };
  if (reviewer) out.reviewer = reviewer;
  if (extra.publicRoutes) out.publicRoutes = extra.publicRoutes;
  if (extra.auditSink) out.auditSink = extra.auditSink;
  return out;
}

async function security(app: FastifyInstance, opts: SecurityOptions): Promise<void> {
  const publicRoutes = opts.publicRoutes ?? [];
  await accessControl(app, {
    auth: opts.auth,
    authenticator: opts.authenticator,
    traces: opts.traces,
    defaultDurationSeconds: opts.config.defaultDurationSeconds,
    publicRoutes,
    ...(opts.reviewer ? { reviewer: opts.reviewer } : {}),
  });
  await requestLimits(app, {
    redis: opts.redis,
    limits: opts.auth.limits,
    uploadTokenSecret: opts.config.uploadTokenSecret,
    retentionSeconds: opts.config.retentionSeconds,
    publicRoutes,
  });
  await auditLog(app, opts.auditSink ? { sink: opts.auditSink } : {});
}

/** The plugin; its hooks apply app-wide (skip-override). */
export const tracejobSecurity = Object.assign(security, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'tracejob-security',
});
