/**
 * `tracejob serve` (and `npm start`): the all-in-one mode. API + scheduler worker + local backend
 * in one process, on 127.0.0.1:$PORT. With no REDIS_URL it starts a private redis-server child
 * (data under DATA_DIR/redis, AOF on) and stops it on exit.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { buildApp } from '../api/src/app.ts';
import { loadAuthConfig } from '../api/src/auth/auth-config-loader.ts';
import { assertAuthConfigSafe } from '../api/src/auth/listen-safety.ts';
import { securityOptionsFor, tracejobSecurity } from '../api/src/auth/security-plugin.ts';
import { SLACK_ROUTE } from '../api/src/chatops/slack-plugin.ts';
import { ConfigError, loadConfig, uploadBaseUrl, type Config } from '../api/src/config.ts';
import { loadGadgetCatalogue } from '../api/src/gadget-catalogue.ts';
import { TracejobMetrics } from '../api/src/metrics.ts';
import { startRedisServer, type RedisServerProcess } from '../api/src/redis-server-process.ts';
import { expireResults } from '../api/src/store/expire-results.ts';
import { FsResultStore } from '../api/src/store/fs-result-store.ts';
import { LocalBackend } from '../scheduler/src/local/local-backend.ts';
import { createTraceQueue, queueDepth } from '../scheduler/src/trace-queue.ts';
import { TraceStore } from '../scheduler/src/trace-store.ts';
import { TraceWorker } from '../scheduler/src/trace-worker.ts';

export interface RunningServer {
  url: string;
  port: number;
  app: FastifyInstance;
  redisUrl: string;
  close(): Promise<void>;
}

const MAINTENANCE_MS = 60_000;

export async function startAllInOne(config: Readonly<Config>, logger: Logger = pino({ level: config.logLevel })): Promise<RunningServer> {
  if (config.backend !== 'local') throw new ConfigError('BACKEND', 'the all-in-one mode runs the local backend; run the API and the scheduler separately for kubernetes');
  let redisChild: RedisServerProcess | undefined;
  let redisUrl = config.redisUrl;
  if (!redisUrl) {
    const redisLog = logger.child({ component: 'redis-server' });
    redisChild = await startRedisServer({ dir: join(config.dataDir, 'redis'), onOutput: (line) => redisLog.debug(line) });
    redisUrl = redisChild.url;
    logger.info({ redisUrl, dir: join(config.dataDir, 'redis'), pid: redisChild.pid }, 'started a private redis-server (AOF on)');
  }
  const apiRedis = new Redis(redisUrl, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
  const queueRedis = new Redis(redisUrl, { maxRetriesPerRequest: 2, enableAutoPipelining: true });
  const workerRedis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const schedulerRedis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const subscriber = new Redis(redisUrl, { maxRetriesPerRequest: null });
  for (const c of [apiRedis, queueRedis, workerRedis, schedulerRedis, subscriber]) c.on('error', (err) => logger.debug({ err: err.message }, 'redis connection error'));

  const traces = new TraceStore(apiRedis, config.retentionSeconds);
  const schedulerTraces = new TraceStore(schedulerRedis, config.retentionSeconds);
  const queue = createTraceQueue(queueRedis);
  const results = new FsResultStore(config.dataDir);
  const metrics = new TracejobMetrics(() => queueDepth(queue));
  const backend = new LocalBackend({
    redis: schedulerRedis,
    nodeName: config.nodeName,
    dataDir: config.dataDir,
    runnerCommand: config.runnerCommand,
    graceSeconds: config.runnerGraceSeconds,
    logger: logger.child({ component: 'local-backend' }),
  });
  const gadgets = await loadGadgetCatalogue();
  const app = await buildApp(
    { config, redis: apiRedis, queue, queueDepth: () => queueDepth(queue), traces, results, gadgets, metrics, checkTarget: (t) => backend.checkTarget(t) },
    logger,
  );
  const auth = loadAuthConfig(process.env);
  assertAuthConfigSafe({ host: config.host, auth }, logger);
  await app.register(tracejobSecurity, securityOptionsFor({ config, redis: apiRedis, traces }, auth, { publicRoutes: [SLACK_ROUTE] }));
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;

  const worker = new TraceWorker({
    connection: workerRedis,
    subscriber,
    traces: schedulerTraces,
    backend,
    uploadBaseUrl: () => uploadBaseUrl(config, port),
    uploadTokenSecret: config.uploadTokenSecret,
    maxResultBytes: config.maxResultBytes,
    runnerGraceSeconds: config.runnerGraceSeconds,
    concurrency: config.schedulerConcurrency,
    lockSeconds: config.schedulerLockSeconds,
    logger: logger.child({ component: 'scheduler' }),
    onTraceFinished: (status, seconds) => metrics.traceFinished(status, seconds),
  });
  await worker.start();

  const maintain = async () => {
    try {
      const expired = await expireResults(traces, results);
      if (expired.length > 0) logger.info({ traces: expired.length }, 'expired trace results removed');
      const active = new Set(await schedulerTraces.activeIds());
      const swept = await backend.sweep(active);
      if (swept > 0) logger.info({ traces: swept }, 'runner leftovers removed');
    } catch (err) {
      logger.warn({ err }, 'maintenance failed');
    }
  };
  void maintain();
  const timer = setInterval(() => void maintain(), MAINTENANCE_MS);
  timer.unref();

  logger.warn(
    { url },
    '*** tracejob is listening WITHOUT AUTHENTICATION: anyone who can reach this address can run privileged BPF traces on this machine. Keep it on loopback. ***',
  );

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    app,
    redisUrl,
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        await app.close();
        await worker.close();
        await backend.close();
        await queue.close();
        for (const c of [apiRedis, queueRedis, workerRedis, schedulerRedis, subscriber]) c.disconnect();
        await redisChild?.stop();
      })();
      return closing;
    },
  };
}

/** Entry of `tracejob serve`: starts, then stops cleanly on SIGINT/SIGTERM. */
export async function main(): Promise<void> {
  let config: Readonly<Config>;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`tracejob: invalid configuration: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const logger = pino({ level: config.logLevel });
  console.error(`tracejob: WARNING: no authentication — the API on ${config.host}:${config.port} lets anyone who reaches it run privileged traces.`);
  let server: RunningServer;
  try {
    server = await startAllInOne(config, logger);
  } catch (err) {
    logger.fatal({ err }, 'could not start');
    process.exit(1);
  }
  logger.info({ url: server.url, dataDir: config.dataDir, node: config.nodeName }, `tracejob all-in-one ready on ${server.url} (OpenAPI at ${server.url}/docs)`);
  const stop = (signal: string) => {
    logger.info({ signal }, 'stopping');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
