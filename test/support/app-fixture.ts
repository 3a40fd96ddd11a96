/**
 * Builds the app for route tests against a real Redis (test/support/redis.ts) and a temporary
 * DATA_DIR; the result store is the one `env` configures (filesystem, or RESULT_STORE=s3). Tests and benchmarks only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { TraceTarget } from '../../contracts/index.ts';
import { startTestRedis, type TestRedis } from './redis.ts';
import { LocalBackend } from '../../scheduler/src/local/local-backend.ts';
import { createTraceQueue, queueDepth } from '../../state/src/trace-queue.ts';
import { TraceStore } from '../../state/src/trace-store.ts';
import { alertRulesOf } from '../../api/src/alerts/alert-rules.ts';
import { buildApp } from '../../api/src/app.ts';
import { createScheduleQueue } from '../../state/src/schedule-queue.ts';
import { ScheduleStore } from '../../state/src/schedule-store.ts';
import { loadConfig, type Config } from '../../state/src/config.ts';
import { loadGadgetCatalogue } from '../../api/src/gadget-catalogue.ts';
import { TracejobMetrics } from '../../api/src/metrics.ts';
import { openResultStore } from '../../api/src/store/open-result-store.ts';
import type { ResultStore } from '../../api/src/store/result-store.ts';
import { pino } from 'pino';

export interface AppFixture {
  app: FastifyInstance;
  config: Readonly<Config>;
  redis: TestRedis;
  client: Redis;
  traces: TraceStore;
  schedules: ScheduleStore;
  results: ResultStore;
  dataDir: string;
  close(): Promise<void>;
}

export interface AppFixtureOptions {
  /** A Redis the caller owns (not stopped by close); default: a new one for this fixture. */
  redis?: TestRedis;
  /** false: return the app before `ready()`, so a test can register a plugin first. Default true. */
  ready?: boolean;
  /** Passed to buildApp: false when the test registers the watch/callback/Slack/UI plugins itself. */
  userFacingPlugins?: boolean;
  /** The synchronous target check at POST; default: the local backend's (local config only); false: none. */
  checkTarget?: boolean | ((target: TraceTarget) => Promise<void>);
}

export async function startAppFixture(env: Record<string, string> = {}, opts: AppFixtureOptions = {}): Promise<AppFixture> {
  const shared = opts.redis;
  const dataDir = mkdtempSync(join(tmpdir(), 'tracejob-api-'));
  const redis = shared ?? (await startTestRedis());
  const config = loadConfig({ DATA_DIR: dataDir, REDIS_URL: redis.url, NODE_NAME: 'test-node', LOG_LEVEL: 'silent', ...env });
  const client = redis.client({ maxRetriesPerRequest: 1 });
  const traces = new TraceStore(client, config.retentionSeconds);
  const queue = createTraceQueue(redis.client({ maxRetriesPerRequest: 1 }));
  const store = await openResultStore(config);
  const results = store.results;
  const metrics = new TracejobMetrics(() => queueDepth(queue));
  const gadgets = await loadGadgetCatalogue();
  const alertRules = alertRulesOf(config, gadgets);
  const scheduleQueue = createScheduleQueue(redis.client({ maxRetriesPerRequest: 1 }));
  const schedules = new ScheduleStore(client);
  const backend = new LocalBackend({ redis: client, nodeName: config.nodeName, dataDir, runnerCommand: config.runnerCommand, graceSeconds: 5, logger: pino({ level: 'silent' }) });
  const app = await buildApp({
    config,
    redis: client,
    queue,
    queueDepth: () => queueDepth(queue),
    traces,
    results,
    columnarEngine: store.engine,
    gadgets,
    metrics,
    ...(alertRules ? { alertRules } : {}),
    schedules: { store: schedules, queue: scheduleQueue },
    ...(typeof opts.checkTarget === 'function'
      ? { checkTarget: opts.checkTarget }
      : config.backend === 'local' && opts.checkTarget !== false
        ? { checkTarget: (t: TraceTarget) => backend.checkTarget(t) }
        : {}),
    ...(opts.userFacingPlugins === false ? { userFacingPlugins: false } : {}),
  });
  if (opts.ready !== false) await app.ready();
  return {
    app,
    config,
    redis,
    client,
    traces,
    schedules,
    results,
    dataDir,
    async close() {
      await app.close();
      await queue.close();
      await scheduleQueue.close();
      store.close();
      if (!shared) await redis.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type UnreadyApp = AppFixture;

/** The app before `ready()` and without the user-facing plugins, so a test can register the plugin under test first. */
export function buildUnreadyApp(env: Record<string, string> = {}): Promise<UnreadyApp> {
  return startAppFixture(env, { ready: false, userFacingPlugins: false, checkTarget: false });
}
