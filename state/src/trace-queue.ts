/**
 * The BullMQ queue "traces": one job per trace, job id = trace id (so adding twice is a no-op),
 * job data = the trace id (the spec lives in the TraceStore).
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

export const TRACE_QUEUE_NAME = 'traces';

export interface TraceJobData {
  traceId: string;
}

export function createTraceQueue(connection: Redis): Queue<TraceJobData> {
  return new Queue<TraceJobData>(TRACE_QUEUE_NAME, {
    connection,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true, attempts: 1 },
  });
}

export async function enqueueTrace(queue: Queue<TraceJobData>, traceId: string): Promise<void> {
  await queue.add('trace', { traceId }, { jobId: traceId });
}

/** Traces waiting to be picked up. */
export async function queueDepth(queue: Queue<TraceJobData>): Promise<number> {
  const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed');
  return (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
}

/** Removes a queued trace's job (best effort: a job a worker holds is left to the worker). */
export async function removeQueuedTrace(queue: Queue<TraceJobData>, traceId: string): Promise<void> {
  try {
    await queue.remove(traceId);
  } catch {
    /* locked by a worker, which will see the cancel */
  }
}
