/**
 * The BullMQ queue "schedules": one job scheduler per schedule (scheduler id = schedule id). BullMQ
 * keeps the schedulers in Redis and adds each next run as a delayed job, so schedules survive
 * restarts of every process; the scheduler's ScheduleRunWorker turns each run job into a trace.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

export const SCHEDULE_QUEUE_NAME = 'schedules';

export interface ScheduleJobData {
  scheduleId: string;
}

/** Repeat options of a job scheduler: a fixed interval (ms), or a cron pattern in a time zone. */
export type ScheduleRepeat = { every: number } | { pattern: string; tz?: string };

export function createScheduleQueue(connection: Redis): Queue<ScheduleJobData> {
  return new Queue<ScheduleJobData>(SCHEDULE_QUEUE_NAME, { connection });
}

/** Creates (or replaces) the job scheduler of a schedule. */
export async function upsertScheduleJob(queue: Queue<ScheduleJobData>, scheduleId: string, repeat: ScheduleRepeat): Promise<void> {
  await queue.upsertJobScheduler(scheduleId, repeat, {
    name: 'run',
    data: { scheduleId },
    opts: { removeOnComplete: true, removeOnFail: 100, attempts: 3, backoff: { type: 'exponential', delay: 1000 } },
  });
}

export async function removeScheduleJob(queue: Queue<ScheduleJobData>, scheduleId: string): Promise<void> {
  await queue.removeJobScheduler(scheduleId);
}

/** When the schedule runs next (ms since the epoch), from BullMQ's scheduler. */
export async function nextRunAt(queue: Queue<ScheduleJobData>, scheduleId: string): Promise<number | undefined> {
  const s = await queue.getJobScheduler(scheduleId);
  return s?.next ?? undefined;
}
