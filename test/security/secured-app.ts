/**
 * The real app (buildApp + the watch plugin) on a real Redis and a temporary DATA_DIR, with the
 * security plugin (auth, limits, audit) registered before `ready()`, and the audit lines captured.
 * Tests only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { buildApp } from '../../api/src/app.ts';
import type { AuthConfig } from '../../api/src/auth/access-policy.ts';
import type { KubernetesReviewer } from '../../api/src/auth/kubernetes-reviews.ts';
import { securityOptionsFor, tracejobSecurity } from '../../api/src/auth/security-plugin.ts';
import { loadConfig, type Config } from '../../api/src/config.ts';
import { loadGadgetCatalogue } from '../../api/src/gadget-catalogue.ts';
import { TracejobMetrics } from '../../api/src/metrics.ts';
import { FsResultStore } from '../../api/src/store/fs-result-store.ts';
import { createTraceQueue, queueDepth } from '../../scheduler/src/trace-queue.ts';
import { TraceStore } from '../../scheduler/src/trace-store.ts';
import { startTestRedis, type TestRedis } from '../support/redis.ts';

export interface SecuredApp {
  app: FastifyInstance;
  config: Readonly<Config>;
  redis: TestRedis;
  client: Redis;
  traces: TraceStore;
  results: FsResultStore;
  /** Audit records written so far. */
  audit: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startSecuredApp(
  auth: AuthConfig,
  env: Record<string, string> = {},
  opts: { redis?: TestRedis; reviewer?: KubernetesReviewer; logger?: boolean } = {},
): Promise<SecuredApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tracejob-security-'));
  const redis = opts.redis ?? (await startTestRedis({ appendfsync: 'everysec' }));
  const config = loadConfig({ DATA_DIR: dataDir, REDIS_URL: redis.url, NODE_NAME: 'test-node', LOG_LEVEL: 'silent', BACKEND: 'kubernetes', ...env });
  const client = redis.client({ maxRetriesPerRequest: 1 });
  const traces = new TraceStore(client, config.retentionSeconds);
  const queue = createTraceQueue(redis.client({ maxRetriesPerRequest: 1 }));
  const results = new FsResultStore(dataDir);
  const metrics = new TracejobMetrics(() => queueDepth(queue));
  const app = await buildApp({ config, redis: client, queue, queueDepth: () => queueDepth(queue), traces, results, gadgets: await loadGadgetCatalogue(), metrics });
  const audit: Record<string, unknown>[] = [];
  const sink = { info: (obj: object) => void audit.push(obj as Record<string, unknown>) };
  await app.register(tracejobSecurity, securityOptionsFor({ config, redis: client, traces }, auth, { auditSink: sink, ...(opts.reviewer ? { reviewer: opts.reviewer } : {}) }));
  await app.ready();
  return {
    app,
    config,
    redis,
    client,
    traces,
    results,
    audit,
    async close() {
      await app.close();
      await queue.close();
      if (!opts.redis) await redis.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
