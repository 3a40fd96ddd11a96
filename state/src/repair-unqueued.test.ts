import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Queue } from 'bullmq';
import type { TraceSpec } from '../../contracts/index.ts';
import { startTestRedis, type TestRedis } from '../../test/support/redis.ts';
import { repairUnqueuedTraces } from './repair-unqueued.ts';
import { createTraceQueue, enqueueTrace, type TraceJobData } from './trace-queue.ts';
import { TraceStore } from './trace-store.ts';

const spec: TraceSpec = { gadget: 'exec', durationSeconds: 5, target: { pids: [1] }, params: {}, limits: { maxEvents: 100 } };
let redis: TestRedis;
let traces: TraceStore;
let queue: Queue<TraceJobData>;

before(async () => {
  redis = await startTestRedis();
  traces = new TraceStore(redis.client(), 3600);
  queue = createTraceQueue(redis.client());
});
after(async () => {
  await queue.close();
  await redis.close();
});

test('a queued trace with no queue job is queued again; one with a job, a young one and a running one are left alone', async () => {
  const created = new Date(Date.now() - 60_000);
  await traces.create('lost', spec, undefined, created); // recorded, never queued (the API died)
  await traces.create('fine', spec, undefined, created);
  await enqueueTrace(queue, 'fine');
  await traces.create('young', spec, undefined, new Date()); // its POST may still be queueing it
  await traces.create('taken', spec, undefined, created);
  await traces.markRunning('taken');

  const out = await repairUnqueuedTraces(traces, queue);
  assert.deepEqual(out, { requeued: ['lost'], failed: [] });
  assert.ok(await queue.getJob('lost'), 'the lost trace has a job now');
  assert.equal(await queue.getJob('young'), undefined);
  assert.equal(await queue.getJob('taken'), undefined);
  assert.equal(await traces.status('lost'), 'queued');

  assert.deepEqual(await repairUnqueuedTraces(traces, queue), { requeued: [], failed: [] }, 'a second pass finds nothing to do');
});

test('a trace still unscheduled after the give-up time is failed with the reason, not left queued', async () => {
  await traces.create('ancient', spec, undefined, new Date(Date.now() - 2 * 3_600_000));
  const out = await repairUnqueuedTraces(traces, queue);
  assert.deepEqual(out.failed, ['ancient']);
  const rec = await traces.get('ancient');
  assert.equal(rec?.status, 'failed');
  assert.match(String(rec?.error), /never scheduled/);
});
