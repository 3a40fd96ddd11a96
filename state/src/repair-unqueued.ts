/**
 * Repairs traces that are `queued` in the trace store but have no BullMQ job: an API that died
 * between recording a trace and queueing it, or a job that failed before a worker could start it.
 * The worker marks a trace `running` as soon as it takes it, so `queued` + no job means nobody will
 * ever run it. Such a trace is queued again (job id = trace id: never twice); one still unscheduled
 * after `giveUpMs` is failed with the reason instead of staying `queued` forever.
 */
import type { Queue } from 'bullmq';
import { enqueueTrace, type TraceJobData } from './trace-queue.ts';
import type { TraceStore } from './trace-store.ts';

export interface RepairOutcome {
  requeued: string[];
  failed: string[];
}

export async function repairUnqueuedTraces(
  traces: TraceStore,
  queue: Queue<TraceJobData>,
  opts: { now?: number; graceMs?: number; giveUpMs?: number } = {},
): Promise<RepairOutcome> {
  const now = opts.now ?? Date.now();
  const graceMs = opts.graceMs ?? 30_000;
  const giveUpMs = opts.giveUpMs ?? 3_600_000;
  const out: RepairOutcome = { requeued: [], failed: [] };
  for (const id of await traces.activeIds()) {
    const rec = await traces.get(id);
    if (!rec || rec.status !== 'queued') continue;
    const age = now - Date.parse(rec.createdAt);
    if (!(age >= graceMs)) continue; // just created: its POST may still be queueing it
    if (await queue.getJob(id)) continue;
    if (age >= giveUpMs) {
      await traces.finish(id, 'failed', `the trace was never scheduled (no queue job ${Math.round(age / 60_000)} minutes after it was created)`);
      out.failed.push(id);
    } else {
      await enqueueTrace(queue, id);
      out.requeued.push(id);
    }
  }
  return out;
}
