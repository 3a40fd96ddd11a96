/**
 * Runs schedules: a BullMQ worker on the "schedules" queue. Each job a schedule's job scheduler
 * produces becomes one ordinary trace (queued like any other, linked to its schedule by
 * spec.trigger) and is recorded in the schedule's runs. The trace is created with the job's id as
 * its idempotency key, so a job retried after a crash does not start a second trace. A job whose
 * schedule was deleted removes its job scheduler.
 */
import { randomUUID } from 'node:crypto';
import { Worker, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { TraceSpec } from '../../contracts/index.ts';
import { Redis as RedisClient } from 'ioredis';
import { createScheduleQueue, removeScheduleJob, SCHEDULE_QUEUE_NAME, type ScheduleJobData } from '../../state/src/schedule-queue.ts';
import { ScheduleStore } from '../../state/src/schedule-store.ts';
import { createTraceQueue, enqueueTrace, type TraceJobData } from '../../state/src/trace-queue.ts';
import type { TraceStore } from '../../state/src/trace-store.ts';

export interface ScheduleRunWorkerOptions {
  /** Connection for BullMQ (maxRetriesPerRequest: null). */
  connection: Redis;
  schedules: ScheduleStore;
  traces: TraceStore;
  traceQueue: Queue<TraceJobData>;
  scheduleQueue: Queue<ScheduleJobData>;
  logger: Logger;
  /** Called after each run's trace is queued (tests, metrics). */
  onRun?: (scheduleId: string, traceId: string) => void;
}

/** A running ScheduleRunWorker with connections of its own (what a scheduler process starts). */
export interface RunningScheduleWorker {
  worker: ScheduleRunWorker;
  close(): Promise<void>;
}

/** Starts a ScheduleRunWorker on `redisUrl`, with its own connections and queues; close() releases them. */
export async function startScheduleRunWorker(opts: { redisUrl: string; traces: TraceStore; logger: Logger; onRun?: ScheduleRunWorkerOptions['onRun'] }): Promise<RunningScheduleWorker> {
  const connections = [0, 1, 2].map(() => new RedisClient(opts.redisUrl, { maxRetriesPerRequest: null }));
  for (const c of connections) c.on('error', (err) => opts.logger.debug({ err: err.message }, 'redis connection error'));
  const [workerConnection, queueConnection, storeConnection] = connections as [Redis, Redis, Redis];
  const traceQueue = createTraceQueue(queueConnection);
  const scheduleQueue = createScheduleQueue(queueConnection);
  const worker = new ScheduleRunWorker({
    connection: workerConnection,
    schedules: new ScheduleStore(storeConnection),
    traces: opts.traces,
    traceQueue,
    scheduleQueue,
    logger: opts.logger,
    ...(opts.onRun ? { onRun: opts.onRun } : {}),
  });
  await worker.start();
  return {
    worker,
    async close() {
      await worker.close();
      await traceQueue.close();
      await scheduleQueue.close();
      for (const c of connections) c.disconnect();
    },
  };
}

export class ScheduleRunWorker {
  private worker?: Worker<ScheduleJobData>;

  constructor(private readonly opts: ScheduleRunWorkerOptions) {}

  async start(): Promise<void> {
    this.worker = new Worker<ScheduleJobData>(SCHEDULE_QUEUE_NAME, (job) => this.run(job), { connection: this.opts.connection, concurrency: 4, autorun: true });
    this.worker.on('error', (err) => this.opts.logger.error({ err }, 'schedule worker error'));
    await this.worker.waitUntilReady();
  }

  async close(): Promise<void> {
    await this.worker?.close();
  }

  private async run(job: Job<ScheduleJobData>): Promise<void> {
    const { scheduleId } = job.data;
    const log = this.opts.logger.child({ scheduleId, jobId: job.id });
    const rec = await this.opts.schedules.get(scheduleId);
    if (!rec) {
      log.info('schedule is gone: its job scheduler is removed');
      await removeScheduleJob(this.opts.scheduleQueue, scheduleId);
      return;
    }
    const dueAt = new Date(job.timestamp + (job.opts.delay ?? 0)).toISOString();
    const spec: TraceSpec = { ...rec.trace, trigger: { kind: 'schedule', scheduleId, dueAt } };
    const key = `schedule-run:${job.id ?? `${scheduleId}:${dueAt}`}`;
    const outcome = await this.opts.traces.create(randomUUID(), spec, { key, requestHash: key });
    const traceId = outcome.id;
    const status = outcome.kind === 'created' ? 'queued' : await this.opts.traces.status(traceId);
    if (status === 'queued') await enqueueTrace(this.opts.traceQueue, traceId);
    await this.opts.schedules.recordRun(scheduleId, traceId, rec.keepRuns);
    log.info({ traceId, dueAt, replay: outcome.kind !== 'created' }, 'schedule run: trace queued');
    this.opts.onRun?.(scheduleId, traceId);
  }
}
