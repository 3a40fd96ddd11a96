/**
 * A scheduler process on its own (no API): the BullMQ worker with the local backend. Needs
 * REDIS_URL, and PUBLIC_URL (or HOST/PORT) naming the API runners upload to.
 * Run: node --import tsx scheduler/src/main.ts
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { ConfigError, loadConfig, uploadBaseUrl } from '../../state/src/config.ts';
import { LocalBackend } from './local/local-backend.ts';
import { TraceStore } from '../../state/src/trace-store.ts';
import { startScheduleRunWorker } from './schedule-run-worker.ts';
import { TraceWorker, workerSettingsFrom } from './trace-worker.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
    if (!config.redisUrl) throw new ConfigError('REDIS_URL', 'required for a scheduler process');
    if (config.backend !== 'local') throw new ConfigError('BACKEND', 'this entry runs the local backend; for BACKEND=kubernetes run scheduler/src/kubernetes/main.ts');
  } catch (err) {
    console.error(`tracejob-scheduler: invalid configuration: ${(err as Error).message}`);
    process.exit(2);
  }
  const logger = pino({ level: config.logLevel }).child({ component: 'scheduler', pid: process.pid });
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const backend = new LocalBackend({
    redis,
    nodeName: config.nodeName,
    dataDir: config.dataDir,
    runnerCommand: config.runnerCommand,
    graceSeconds: config.runnerGraceSeconds,
    prewarm: config.runnerPrewarm,
    logger,
  });
  const worker = new TraceWorker({
    connection: new Redis(config.redisUrl, { maxRetriesPerRequest: null }),
    subscriber: new Redis(config.redisUrl, { maxRetriesPerRequest: null }),
    traces: new TraceStore(redis, config.retentionSeconds),
    backend,
    uploadBaseUrl: () => uploadBaseUrl(config),
    ...workerSettingsFrom(config),
    logger,
  });
  await worker.start();
  // Schedules' runs become traces here (BullMQ job schedulers, queue "schedules").
  const schedules = await startScheduleRunWorker({ redisUrl: config.redisUrl, traces: new TraceStore(redis, config.retentionSeconds), logger: logger.child({ component: 'schedules' }) });
  logger.info('scheduler ready');
  const stop = () => void Promise.allSettled([schedules.close(), worker.close()]).then(() => backend.close()).then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

await main();
