/**
 * Runs schedules: a BullMQ worker on the "schedules" queue. Each job a schedule's job scheduler
 * produces becomes one ordinary trace (queued like any other, linked to its schedule by
 * spec.trigger) and is recorded in the schedule's runs. The trace is created with the job's id as
 * its idempotency key, so a job retried after a crash does not start a second trace. A job whose
 * schedule was deleted removes its job scheduler. A run takes the same concurrency slots as a
 * POST by the schedule's owner would; when one is full the run is skipped and counted on the
 * schedule (GET /v1/schedules/:id shows skippedRuns and the newest reason), never queued over the
 * limit.
 */
import { createHash } from 'node:crypto';
import { Worker, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { TraceSpec } from '../../contracts/index.ts';
import { Redis as RedisClient } from 'ioredis';
import { ConcurrencySlots, RESERVATION_MS, slotRefusal, TRACE_SLOT_MS } from '../../state/src/concurrency-slots.ts';
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
  /** Slots on the shared Redis (default: on `connection`'s server through the store's connection). */
  slots: ConcurrencySlots;
  /** Called after each run's trace is queued (tests, metrics). */
  onRun?: (scheduleId: string, traceId: string) => void;
  /** Called after a run is skipped because a concurrency limit was reached. */
  onSkip?: (scheduleId: string, reason: string) => void;
}

/** A running ScheduleRunWorker with connections of its own (what a scheduler process starts). */
export interface RunningScheduleWorker {
  worker: ScheduleRunWorker;
  close(): Promise<void>;
}

/** Starts a ScheduleRunWorker on `redisUrl`, with its own connections and queues; close() releases them. */
export async function startScheduleRunWorker(opts: {
  redisUrl: string;
  traces: TraceStore;
  logger: Logger;
  onRun?: ScheduleRunWorkerOptions['onRun'];
  onSkip?: ScheduleRunWorkerOptions['onSkip'];
}): Promise<RunningScheduleWorker> {
  const connections = [0, 1, 2].map(() => new RedisClient(opts.redisUrl, { maxRetriesPerRequest: null }));
  for (const c of connections) c.on('error', (err) => opts.logger.debug({ err: err.message }, 'redis connection error'));
  const [workerConnection, queueConnection, storeConnection] = connections as [Redis, Redis, Redis];
  const traceQueue = createTraceQueue(queueConnection);
  const scheduleQueue = createScheduleQueue(queueConnection);
  const worker = new ScheduleRunWorker({
    connection: workerConnection,
    schedules: new ScheduleStore(storeConnection),
    slots: new ConcurrencySlots(storeConnection),
    traces: opts.traces,
    traceQueue,
    scheduleQueue,
    logger: opts.logger,
    ...(opts.onRun ? { onRun: opts.onRun } : {}),
    ...(opts.onSkip ? { onSkip: opts.onSkip } : {}),
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

/** The trace id of a schedule's run: derived from its job, so a retried job names the same trace. */
export function runTraceId(jobKey: string): string {
  const h = createHash('sha256').update(jobKey).digest('hex');
  // UUID layout, version 8 (custom) and the RFC 4122 variant.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
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
    const traceId = runTraceId(key);
    const scopes = rec.slots ?? [];
    // A job retried after a crash finds its trace (same id): it already holds its slot.
    const replay = await this.opts.traces.exists(traceId);
    const reservation = `r:${traceId}`;
    if (!replay) {
      const slot = await this.opts.slots.acquire(scopes, reservation, RESERVATION_MS);
      if (!slot.ok) {
        const reason = slotRefusal(slot, rec.owner);
        await this.opts.schedules.recordSkip(scheduleId, dueAt, reason);
        log.warn({ dueAt, reason }, 'schedule run skipped: a concurrency limit is reached');
        this.opts.onSkip?.(scheduleId, reason);
        return;
      }
    }
    try {
      const outcome = await this.opts.traces.create(traceId, spec, { key, requestHash: key });
      const status = outcome.kind === 'created' ? 'queued' : await this.opts.traces.status(traceId);
      if (status === 'queued') await enqueueTrace(this.opts.traceQueue, traceId);
      if (!replay) await this.opts.slots.commit(scopes, reservation, traceId, TRACE_SLOT_MS);
    } catch (err) {
      if (!replay) await this.opts.slots.release(scopes, reservation).catch(() => undefined);
      throw err;
    }
    await this.opts.schedules.recordRun(scheduleId, traceId, rec.keepRuns);
    log.info({ traceId, dueAt, replay }, 'schedule run: trace queued');
    this.opts.onRun?.(scheduleId, traceId);
  }
}
