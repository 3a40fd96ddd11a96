/**
 * The real app (buildApp) on a real Redis and a temporary DATA_DIR, not yet ready, so a test can
 * register the plugin under test first. Tests only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { createTraceQueue, queueDepth } from '../../../scheduler/src/trace-queue.ts';
import { TraceStore } from '../../../scheduler/src/trace-store.ts';
import { startTestRedis, type TestRedis } from '../../../test/support/redis.ts';
import { buildApp } from '../app.ts';
import { loadConfig, type Config } from '../config.ts';
import { loadGadgetCatalogue } from '../gadget-catalogue.ts';
import { TracejobMetrics } from '../metrics.ts';
import { FsResultStore } from '../store/fs-result-store.ts';

export interface UnreadyApp {
  app: FastifyInstance;
  config: Readonly<Config>;
  redis: TestRedis;
  client: Redis;
  traces: TraceStore;
  results: FsResultStore;
  dataDir: string;
  close(): Promise<void>;
}

export async function buildUnreadyApp(env: Record<string, string> = {}): Promise<UnreadyApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tracejob-plugin-'));
  const redis = await startTestRedis();
  const config = loadConfig({ DATA_DIR: dataDir, REDIS_URL: redis.url, NODE_NAME: 'test-node', LOG_LEVEL: 'silent', ...env });
  const client = redis.client({ maxRetriesPerRequest: 1 });
  const traces = new TraceStore(client, config.retentionSeconds);
  const queue = createTraceQueue(redis.client({ maxRetriesPerRequest: 1 }));
  const results = new FsResultStore(dataDir);
  const metrics = new TracejobMetrics(() => queueDepth(queue));
  const app = await buildApp({ config, redis: client, queue, queueDepth: () => queueDepth(queue), traces, results, gadgets: await loadGadgetCatalogue(), metrics, userFacingPlugins: false });
  return {
    app,
    config,
    redis,
    client,
    traces,
    results,
    dataDir,
    async close() {
      await app.close();
      await queue.close();
      await redis.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
