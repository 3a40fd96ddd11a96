/**
 * A schedule's runs count toward its owner's maxConcurrentTraces, like a POST: on a real Redis,
 * with the API's access control, a run that finds its owner at the limit is skipped and counted on
 * the schedule (with the reason), never queued over the limit; once a slot frees up, the next run
 * starts a trace.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { parseAuthConfig } from '../../api/src/auth/access-policy.ts';
import { hashApiToken } from '../../api/src/auth/api-token-hash.ts';
import { startScheduleRunWorker, type RunningScheduleWorker } from '../../scheduler/src/schedule-run-worker.ts';
import { startSecuredApp, type SecuredApp } from '../security/secured-app.ts';

const TOKEN = 'tj_schedule-limit-token';
let api: SecuredApp;
let worker: RunningScheduleWorker | undefined;
const skips: string[] = [];

before(async () => {
  const auth = parseAuthConfig({ tokens: [{ name: 'one-at-a-time', sha256: hashApiToken(TOKEN), namespaces: ['shop'], maxConcurrentTraces: 1 }] }, 'test');
  api = await startSecuredApp(auth, { SCHEDULE_MIN_INTERVAL: '1s' });
});
after(async () => {
  await worker?.close();
  await api?.close();
});

const headers = { authorization: `Bearer ${TOKEN}` };
const trace = { gadget: 'exec', durationSeconds: 5, target: { namespace: 'shop', labelSelector: 'app=web' } };

interface ScheduleView {
  id: string;
  runs?: { traceId: string; status?: string }[];
  skippedRuns?: number;
  lastSkipped?: { dueAt: string; reason: string };
}

async function scheduleOf(id: string): Promise<ScheduleView> {
  const res = await api.app.inject({ url: `/v1/schedules/${id}`, headers });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as ScheduleView;
}

async function waitFor(id: string, what: string, done: (s: ScheduleView) => boolean): Promise<ScheduleView> {
  for (let i = 0; i < 400; i += 1) {
    const s = await scheduleOf(id);
    if (done(s)) return s;
    await sleep(50);
  }
  assert.fail(`schedule ${id}: ${what} did not happen: ${JSON.stringify(await scheduleOf(id))}`);
}

test("a run that finds its owner at maxConcurrentTraces is skipped and counted; a freed slot lets the next run start", async () => {
  // The owner's one slot is taken by a trace it POSTed (queued: nothing runs traces here).
  const first = await api.app.inject({ method: 'POST', url: '/v1/traces', headers, payload: trace });
  assert.equal(first.statusCode, 202, first.body);
  const firstId = (first.json() as { id: string }).id;
  const refused = await api.app.inject({ method: 'POST', url: '/v1/traces', headers, payload: trace });
  assert.equal(refused.statusCode, 429, 'the limit holds for POST');

  const created = await api.app.inject({ method: 'POST', url: '/v1/schedules', headers, payload: { trace, every: '1s' } });
  assert.equal(created.statusCode, 201, created.body);
  const id = (created.json() as ScheduleView).id;
  worker = await startScheduleRunWorker({ redisUrl: api.redis.url, traces: api.traces, logger: pino({ level: 'silent' }), onSkip: (_s, reason) => skips.push(reason) });

  const skipped = await waitFor(id, 'two skipped runs', (s) => (s.skippedRuns ?? 0) >= 2);
  assert.deepEqual(skipped.runs ?? [], [], 'no run was queued over the limit');
  assert.equal(skipped.lastSkipped?.reason, 'one-at-a-time already has 1 traces queued or running (limit 1)');
  assert.ok(!Number.isNaN(Date.parse(skipped.lastSkipped?.dueAt ?? '')), 'the skipped run says when it was due');
  assert.ok(skips.length >= 2);

  // The POSTed trace is cancelled (queued → cancelled at once): its slot is free for the next run.
  const cancel = await api.app.inject({ method: 'DELETE', url: `/v1/traces/${firstId}`, headers });
  assert.equal(cancel.statusCode, 202, cancel.body);
  const ran = await waitFor(id, 'a run after the slot freed up', (s) => (s.runs ?? []).length >= 1);
  const runId = ran.runs![0]!.traceId;
  assert.equal((await api.traces.get(runId))?.status, 'queued');
  // That run's trace holds the slot now: the runs after it are skipped again, and POST is refused.
  const skippedBefore = ran.skippedRuns ?? 0;
  const again = await waitFor(id, 'a skip after the run', (s) => (s.skippedRuns ?? 0) > skippedBefore);
  assert.equal((again.runs ?? []).length, 1, 'still one run: the limit is one trace at a time');
  const post = await api.app.inject({ method: 'POST', url: '/v1/traces', headers, payload: trace });
  assert.equal(post.statusCode, 429, "the schedule's run counts toward the owner's limit for POST too");
});
