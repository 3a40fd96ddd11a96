/**
 * The API process's half of tracejob, shared by `tracejob serve` (all-in-one) and the API-only
 * process on Kubernetes (cli/api-main.ts): Redis connections, stores, the app with its security
 * layer, `listen`, and, every minute, the expiry of finished traces' results and the repair of
 * traces that were recorded but never queued.
 */
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { TraceTarget } from '../../contracts/index.ts';
import { repairUnqueuedTraces } from '../../state/src/repair-unqueued.ts';
import { createTraceQueue, queueDepth } from '../../state/src/trace-queue.ts';
import { createScheduleQueue } from '../../state/src/schedule-queue.ts';
import { ScheduleStore } from '../../state/src/schedule-store.ts';
import { TraceStore } from '../../state/src/trace-store.ts';
import { alertRulesOf } from './alerts/alert-rules.ts';
import { buildApp } from './app.ts';
import { loadAuthConfig } from './auth/auth-config-loader.ts';
import { assertAuthConfigSafe } from './auth/listen-safety.ts';
import { securityOptionsFor, tracejobSecurity } from './auth/security-plugin.ts';
import { SLACK_ROUTE } from './chatops/slack-plugin.ts';
import type { Config } from '../../state/src/config.ts';
import { loadGadgetCatalogue } from './gadget-catalogue.ts';
import { TracejobMetrics } from './metrics.ts';
import { expireResults } from './store/expire-results.ts';
import { openResultStore } from './store/open-result-store.ts';

const MAINTENANCE_MS = 60_000;
/** Every this many maintenance runs, leftovers of cut uploads are looked for too. */
const SWEEP_EVERY = 30;

export interface ApiServerOptions {
  config: Readonly<Config>;
  redisUrl: string;
  logger: Logger;
  /** Synchronous target check (local: paths and pids exist; kubernetes: a running pod matches). */
  checkTarget?: (target: TraceTarget) => Promise<void>;
  env?: Readonly<Record<string, string | undefined>>;
}

export interface ApiServer {
  app: FastifyInstance;
  url: string;
  port: number;
  /** True when no authentication is configured (allowed on loopback only). */
  open: boolean;
  metrics: TracejobMetrics;
  close(): Promise<void>;
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const { config, redisUrl, logger } = opts;
  // Refuse an unsafe listen address before connecting to anything.
  const auth = loadAuthConfig(opts.env ?? process.env);
  assertAuthConfigSafe({ host: config.host, auth }, logger);

  const apiRedis = new Redis(redisUrl, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
  const queueRedis = new Redis(redisUrl, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
  for (const c of [apiRedis, queueRedis]) c.on('error', (err) => logger.debug({ err: err.message }, 'redis connection error'));
  const traces = new TraceStore(apiRedis, config.retentionSeconds);
  const queue = createTraceQueue(queueRedis);
  const store = await openResultStore(config);
  const results = store.results;
  const metrics = new TracejobMetrics(() => queueDepth(queue));
  const gadgets = await loadGadgetCatalogue();
  // A bad rule stops the start here, naming the rule and field.
  const alertRules = alertRulesOf(config, gadgets);
  const scheduleQueue = createScheduleQueue(queueRedis);
  const app = await buildApp(
    {
      config,
      redis: apiRedis,
      queue,
      queueDepth: () => queueDepth(queue),
      traces,
      results,
      columnarEngine: store.engine,
      gadgets,
      metrics,
      ...(opts.checkTarget ? { checkTarget: opts.checkTarget } : {}),
      ...(alertRules ? { alertRules } : {}),
      schedules: { store: new ScheduleStore(apiRedis), queue: scheduleQueue },
    },
    logger,
  );
  if (alertRules) logger.info({ rules: alertRules.rules.map((r) => r.name), file: alertRules.source }, 'alert rules loaded: POST /v1/hooks/alertmanager is on');
  await app.register(tracejobSecurity, securityOptionsFor({ config, redis: apiRedis, traces }, auth, { publicRoutes: [SLACK_ROUTE] }));
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;

  let runs = 0;
  const maintain = async () => {
    try {
      const expired = await expireResults(traces, results, { sweep: runs++ % SWEEP_EVERY === 0 });
      if (expired.length > 0) logger.info({ traces: expired.length }, 'expired trace results removed');
      const repaired = await repairUnqueuedTraces(traces, queue);
      for (const traceId of repaired.requeued) logger.warn({ traceId }, 'trace was recorded but not queued: queued again');
      for (const traceId of repaired.failed) logger.warn({ traceId }, 'trace was never scheduled: failed');
    } catch (err) {
      logger.warn({ err }, 'maintenance (result expiry, queue repair) failed; will retry');
    }
  };
  void maintain();
  const timer = setInterval(() => void maintain(), MAINTENANCE_MS);
  timer.unref();

  let closing: Promise<void> | undefined;
  return {
    app,
    url,
    port,
    open: auth.mode === 'open',
    metrics,
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        await app.close();
        await queue.close();
        await scheduleQueue.close();
        for (const c of [apiRedis, queueRedis]) c.disconnect();
        store.close();
      })();
      return closing;
    },
  };
}
