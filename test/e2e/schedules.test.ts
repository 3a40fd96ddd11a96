/**
 * Schedules end to end on a real Redis: the API (POST /v1/schedules) creates a BullMQ job
 * scheduler, the scheduler's ScheduleRunWorker turns its jobs into ordinary queued traces linked to
 * the schedule. The schedule runs every 2 s (SCHEDULE_MIN_INTERVAL lowered to 1s for the test),
 * keeps running across a restart of the scheduler and of the API, and a deleted schedule runs no more.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { startScheduleRunWorker, type RunningScheduleWorker } from '../../scheduler/src/schedule-run-worker.ts';
import { startAppFixture, type AppFixture } from '../support/app-fixture.ts';
import { startTestRedis, type TestRedis } from '../support/redis.ts';

const ENV = { SCHEDULE_MIN_INTERVAL: '1s' };
let redis: TestRedis;
let api: AppFixture;
let scheduler: RunningScheduleWorker | undefined;

const startScheduler = () => startScheduleRunWorker({ redisUrl: redis.url, traces: api.traces, logger: pino({ level: 'silent' }) });

before(async () => {
  redis = await startTestRedis({ appendfsync: 'everysec' });
  api = await startAppFixture(ENV, { redis });
});

after(async () => {
  await scheduler?.close();
  await api?.close();
  await redis?.close();
});

interface ScheduleView {
  id: string;
  every?: string;
  nextRunAt?: string;
  runs?: { traceId: string; status?: string }[];
}

async function scheduleOf(id: string): Promise<ScheduleView> {
  const res = await api.app.inject({ url: `/v1/schedules/${id}` });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as ScheduleView;
}

/** Waits until the schedule lists at least `n` runs (each run is a trace the worker queued). */
async function waitForRuns(id: string, n: number): Promise<string[]> {
  for (let i = 0; i < 400; i += 1) {
    const runs = (await scheduleOf(id)).runs ?? [];
    if (runs.length >= n) return runs.map((r) => r.traceId);
    await sleep(50);
  }
  assert.fail(`schedule ${id} did not reach ${n} runs: ${JSON.stringify(await scheduleOf(id))}`);
}

test('a schedule runs every 2 s as ordinary traces linked to it, across restarts of the scheduler and the API', async () => {
  scheduler = await startScheduler();
  const created = await api.app.inject({
    method: 'POST',
    url: '/v1/schedules',
    payload: { trace: { gadget: 'exec', durationSeconds: 1, target: { pids: [process.pid] } }, every: '2s', keepRuns: 10 },
  });
  assert.equal(created.statusCode, 201, created.body);
  const schedule = created.json() as ScheduleView;
  assert.equal(schedule.every, '2s');
  assert.ok(schedule.nextRunAt, 'the answer says when it runs next');
  assert.equal(created.headers.location, `/v1/schedules/${schedule.id}`);

  const firstTwo = await waitForRuns(schedule.id, 2);
  assert.equal(new Set(firstTwo).size, 2, 'each run is a trace of its own');
  for (const traceId of firstTwo) {
    const t = await api.traces.get(traceId);
    assert.ok(t, `run ${traceId} is a trace`);
    assert.equal(t.status, 'queued');
    assert.deepEqual(t.spec.trigger && { kind: t.spec.trigger.kind, scheduleId: (t.spec.trigger as { scheduleId: string }).scheduleId }, { kind: 'schedule', scheduleId: schedule.id });
    assert.equal(t.spec.gadget, 'exec');
    assert.deepEqual(t.spec.target, { pids: [process.pid] });
  }
  const older = await api.traces.get(firstTwo[1]!);
  const newer = await api.traces.get(firstTwo[0]!);
  assert.ok(Date.parse(newer!.createdAt) >= Date.parse(older!.createdAt), 'runs are listed newest first');

  // The scheduler and the API restart; the job scheduler lives in Redis and carries on.
  await scheduler.close();
  scheduler = undefined;
  await api.close();
  api = await startAppFixture(ENV, { redis });
  const beforeRestart = (await scheduleOf(schedule.id)).runs!.length;
  scheduler = await startScheduler();
  const after = await waitForRuns(schedule.id, beforeRestart + 2);
  assert.ok(after.length >= 4);
  assert.deepEqual(after.slice(-firstTwo.length), firstTwo, 'the runs before the restart are still listed, after the new ones');

  // Deleted: 204, then 404, and no job scheduler left to run it.
  const del = await api.app.inject({ method: 'DELETE', url: `/v1/schedules/${schedule.id}` });
  assert.equal(del.statusCode, 204);
  assert.equal((await api.app.inject({ url: `/v1/schedules/${schedule.id}` })).statusCode, 404);
  const { createScheduleQueue } = await import('../../state/src/schedule-queue.ts');
  const queue = createScheduleQueue(redis.client());
  try {
    assert.equal(await queue.getJobScheduler(schedule.id), undefined);
  } finally {
    await queue.close();
  }
});

test('keepRuns: only the newest runs are listed; an ended run that falls off expires, its trace gone', async () => {
  scheduler ??= await startScheduler();
  const created = await api.app.inject({
    method: 'POST',
    url: '/v1/schedules',
    payload: { trace: { gadget: 'exec', durationSeconds: 1, target: { pids: [process.pid] } }, every: '5s', keepRuns: 1 },
  });
  assert.equal(created.statusCode, 201, created.body);
  const id = (created.json() as ScheduleView).id;
  const [first] = await waitForRuns(id, 1);
  // no run while the first one ends (as the scheduler would record it): the worker is stopped, so
  // the next run, which pushes the first off the list, comes after the end whatever the timing
  await scheduler.close();
  assert.equal(await api.traces.finish(first!, 'succeeded'), 'succeeded');
  scheduler = await startScheduler();
  let runs: { traceId: string }[] = [];
  for (let i = 0; i < 400; i += 1) {
    runs = (await scheduleOf(id)).runs ?? [];
    if (runs.length === 1 && runs[0]!.traceId !== first) break;
    await sleep(50);
  }
  assert.equal(runs.length, 1, 'one run kept');
  assert.notEqual(runs[0]!.traceId, first, 'the newest');
  assert.equal(await api.traces.get(first!), undefined, "the ended run's trace expired when it fell off the list");
  assert.ok(await api.traces.get(runs[0]!.traceId), 'the kept run is a trace');
  assert.equal((await api.app.inject({ method: 'DELETE', url: `/v1/schedules/${id}` })).statusCode, 204);
});
