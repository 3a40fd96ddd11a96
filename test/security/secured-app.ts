/**
 * The real app (buildApp with its user-facing plugins) on a real Redis and a temporary DATA_DIR,
 * with the security plugin (auth, limits, audit) registered before `ready()`, and the audit lines
 * captured. Tests only.
 */
import { startAppFixture, type AppFixture } from '../support/app-fixture.ts';
import type { AuthConfig } from '../../api/src/auth/access-policy.ts';
import type { KubernetesReviewer } from '../../api/src/auth/kubernetes-reviews.ts';
import { securityOptionsFor, tracejobSecurity } from '../../api/src/auth/security-plugin.ts';
import { startTestRedis, type TestRedis } from '../support/redis.ts';

export interface SecuredApp extends AppFixture {
  /** Audit records written so far. */
  audit: Record<string, unknown>[];
}

export async function startSecuredApp(
  auth: AuthConfig,
  env: Record<string, string> = {},
  opts: { redis?: TestRedis; reviewer?: KubernetesReviewer; logger?: boolean } = {},
): Promise<SecuredApp> {
  const redis = opts.redis ?? (await startTestRedis({ appendfsync: 'everysec' }));
  const fx = await startAppFixture({ BACKEND: 'kubernetes', ...env }, { redis, ready: false });
  const audit: Record<string, unknown>[] = [];
  const sink = { info: (obj: object) => void audit.push(obj as Record<string, unknown>) };
  await fx.app.register(
    tracejobSecurity,
    securityOptionsFor({ config: fx.config, redis: fx.client, traces: fx.traces }, auth, { auditSink: sink, ...(opts.reviewer ? { reviewer: opts.reviewer } : {}) }),
  );
  await fx.app.ready();
  return {
    ...fx,
    audit,
    async close() {
      await fx.close();
      if (!opts.redis) await redis.close();
    },
  };
}
