/**
 * The scheduler process on Kubernetes: the BullMQ worker with the kubernetes backend, and the
 * sweeper of orphan runner pods/Secrets (at start, then every SWEEP_INTERVAL_SECONDS, default 60).
 * Configuration: the API's (REDIS_URL, PUBLIC_URL, UPLOAD_TOKEN_SECRET, ...; see
 * docs/configuration.md) plus the runner pods' (RUNNER_IMAGE, ...; see kubernetes-config.ts).
 * Credentials: in-cluster ServiceAccount (manifests/rbac.yaml), or KUBECONFIG outside a cluster.
 * Run: node dist/scheduler/src/kubernetes/main.js  (or with tsx from the sources)
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { ConfigError, loadConfig, uploadBaseUrl } from '../../../state/src/config.ts';
import { TraceStore } from '../../../state/src/trace-store.ts';
import { startScheduleRunWorker } from '../schedule-run-worker.ts';
import { TraceWorker, workerSettingsFrom } from '../trace-worker.ts';
import { createKubernetesBackendFromEnv } from './kubernetes-config.ts';

async function main(): Promise<void> {
  let config;
  let backend;
  let sweepSeconds: number;
  const logger0 = pino({ level: process.env.LOG_LEVEL || 'info' });
  try {
    config = loadConfig();
    if (!config.redisUrl) throw new ConfigError('REDIS_URL', 'required for a scheduler process');
    if (config.backend !== 'kubernetes') throw new ConfigError('BACKEND', 'this entry runs the kubernetes backend (BACKEND=kubernetes)');
    if (!config.publicUrl) throw new ConfigError('PUBLIC_URL', 'required on Kubernetes: the URL runner pods upload to, e.g. http://tracejob-api.tracejob.svc:8080');
    sweepSeconds = Number(process.env.SWEEP_INTERVAL_SECONDS || 60);
    if (!Number.isInteger(sweepSeconds) || sweepSeconds < 5) throw new ConfigError('SWEEP_INTERVAL_SECONDS', 'must be an integer >= 5');
    backend = createKubernetesBackendFromEnv(process.env, logger0.child({ component: 'kubernetes-backend' }));
  } catch (err) {
    console.error(`tracejob-scheduler: invalid configuration: ${(err as Error).message}`);
    process.exit(2);
  }
  const logger = logger0.child({ component: 'scheduler', pid: process.pid });
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: null });
  const traces = new TraceStore(redis, config.retentionSeconds);
  const worker = new TraceWorker({
    connection: new Redis(config.redisUrl, { maxRetriesPerRequest: null }),
    subscriber: new Redis(config.redisUrl, { maxRetriesPerRequest: null }),
    traces,
    backend,
    uploadBaseUrl: () => uploadBaseUrl(config),
    ...workerSettingsFrom(config),
    logger,
  });
  const sweep = async () => {
    try {
      const active = new Set([...(await traces.activeIds()), ...worker.activeTraceIds()]);
      await backend.sweep(active);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'sweep of orphan runner pods failed; will retry');
    }
  };
  await worker.start();
  // Schedules' runs become traces here (BullMQ job schedulers, queue "schedules").
  const schedules = await startScheduleRunWorker({ redisUrl: config.redisUrl, traces, logger: logger.child({ component: 'schedules' }) });
  await sweep();
  const timer = setInterval(() => void sweep(), sweepSeconds * 1000);
  timer.unref();
  logger.info({ runnerNamespace: process.env.RUNNER_NAMESPACE || 'tracejob-runners' }, 'scheduler ready (kubernetes backend)');
  const stop = () => {
    clearInterval(timer);
    // Exit without ending running traces: their pods keep running, and BullMQ hands the traces to
    // the next scheduler, which adopts the pods (closing the backend here would fail them).
    void Promise.allSettled([schedules.close(), worker.close(true)]).finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

await main();
