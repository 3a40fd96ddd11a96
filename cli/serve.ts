/**
 * `tracejob serve` (and `npm start`): the all-in-one mode. API + scheduler worker + local backend
 * in one process, on 127.0.0.1:$PORT. With no REDIS_URL it starts a private redis-server child
 * (data under DATA_DIR/redis, AOF on) and stops it on exit.
 */
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { startApiServer, type ApiServer } from '../api/src/api-server.ts';
import { ConfigError, loadConfig, uploadBaseUrl, type Config } from '../state/src/config.ts';
import { startRedisServer, type RedisServerProcess } from '../state/src/redis-server-process.ts';
import { LocalBackend } from '../scheduler/src/local/local-backend.ts';
import { TraceStore } from '../state/src/trace-store.ts';
import { startScheduleRunWorker } from '../scheduler/src/schedule-run-worker.ts';
import { TraceWorker, workerSettingsFrom } from '../scheduler/src/trace-worker.ts';

export interface RunningServer {
  url: string;
  port: number;
  app: FastifyInstance;
  redisUrl: string;
  close(): Promise<void>;
}

const SWEEP_MS = 60_000;

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
  const workerRedis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const schedulerRedis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const subscriber = new Redis(redisUrl, { maxRetriesPerRequest: null });
  for (const c of [workerRedis, schedulerRedis, subscriber]) c.on('error', (err) => logger.debug({ err: err.message }, 'redis connection error'));

  const schedulerTraces = new TraceStore(schedulerRedis, config.retentionSeconds);
  const backend = new LocalBackend({
    redis: schedulerRedis,
    nodeName: config.nodeName,
    dataDir: config.dataDir,
    runnerCommand: config.runnerCommand,
    graceSeconds: config.runnerGraceSeconds,
    prewarm: config.runnerPrewarm,
    logger: logger.child({ component: 'local-backend' }),
  });
  let api: ApiServer;
  try {
    api = await startApiServer({ config, redisUrl, logger, checkTarget: (t) => backend.checkTarget(t) });
  } catch (err) {
    for (const c of [workerRedis, schedulerRedis, subscriber]) c.disconnect();
    await redisChild?.stop();
    throw err;
  }
  const { app, url, port, metrics } = api;

  const worker = new TraceWorker({
    connection: workerRedis,
    subscriber,
    traces: schedulerTraces,
    backend,
    uploadBaseUrl: () => uploadBaseUrl(config, port),
    ...workerSettingsFrom(config),
    logger: logger.child({ component: 'scheduler' }),
    onTraceFinished: (status, seconds) => metrics.traceFinished(status, seconds),
  });
  await worker.start();
  const scheduleWorker = await startScheduleRunWorker({ redisUrl, traces: schedulerTraces, logger: logger.child({ component: 'schedules' }) });

  const sweep = async () => {
    try {
      const active = new Set(await schedulerTraces.activeIds());
      const swept = await backend.sweep(active);
      if (swept > 0) logger.info({ traces: swept }, 'runner leftovers removed');
    } catch (err) {
      logger.warn({ err }, 'sweep of runner leftovers failed; will retry');
    }
  };
  void sweep();
  const timer = setInterval(() => void sweep(), SWEEP_MS);
  timer.unref();

  if (api.open) {
    logger.warn(
      { url },
      '*** tracejob is listening WITHOUT AUTHENTICATION: anyone who can reach this address can run privileged BPF traces on this machine. Keep it on loopback. ***',
    );
  }

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    app,
    redisUrl,
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        await api.close();
        await scheduleWorker.close();
        await worker.close();
        await backend.close();
        for (const c of [workerRedis, schedulerRedis, subscriber]) c.disconnect();
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
