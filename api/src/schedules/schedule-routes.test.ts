import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parseAuthConfig } from '../auth/access-policy.ts';
import { hashApiToken } from '../auth/api-token-hash.ts';
import { startSecuredApp, type SecuredApp } from '../../../test/security/secured-app.ts';

const SHOP = 'tj_schedule-test-shop-token';
const OTHER = 'tj_schedule-test-other-token';
const LIMITED = 'tj_schedule-test-limited-token';

let api: SecuredApp;

before(async () => {
  const auth = parseAuthConfig(
    {
      tokens: [
        { name: 'shop', sha256: hashApiToken(SHOP), namespaces: ['shop'], gadgets: ['exec', 'open'], maxDurationSeconds: 60 },
        { name: 'other', sha256: hashApiToken(OTHER), namespaces: ['other'] },
        { name: 'limited', sha256: hashApiToken(LIMITED), namespaces: ['shop'], maxSchedules: 1 },
      ],
    },
    'test',
  );
  api = await startSecuredApp(auth, { SCHEDULE_MIN_INTERVAL: '5m' });
});

after(async () => {
  await api?.close();
});

const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const trace = { gadget: 'exec', durationSeconds: 30, target: { namespace: 'shop', labelSelector: 'app=web' } };

async function post(token: string, payload: unknown) {
  return api.app.inject({ method: 'POST', url: '/v1/schedules', headers: auth(token), payload: payload as Record<string, unknown> });
}

test('201 with the schedule; GET lists and shows it with its (no) runs and next run; the audit log has it', async () => {
  const res = await post(SHOP, { trace, cron: '*/10 * * * *', timeZone: 'Europe/Paris', keepRuns: 3 });
  assert.equal(res.statusCode, 201, res.body);
  const s = res.json();
  assert.match(s.id, /^[0-9a-f-]{36}$/);
  assert.equal(s.cron, '*/10 * * * *');
  assert.equal(s.timeZone, 'Europe/Paris');
  assert.equal(s.keepRuns, 3);
  assert.equal(s.owner, 'shop');
  assert.deepEqual(s.trace.target, trace.target);
  assert.equal(s.trace.limits.maxEvents > 0, true, 'the trace got its defaults');
  const next = Date.parse(s.nextRunAt);
  assert.ok(next > Date.now() && new Date(next).getUTCMinutes() % 10 === 0, `next run ${s.nextRunAt} is on a 10-minute mark`);

  const one = await api.app.inject({ url: `/v1/schedules/${s.id}`, headers: auth(SHOP) });
  assert.equal(one.statusCode, 200);
  assert.deepEqual(one.json().runs, []);
  const list = await api.app.inject({ url: '/v1/schedules', headers: auth(SHOP) });
  assert.ok(list.json().items.some((x: { id: string }) => x.id === s.id));
  assert.ok(api.audit.some((a) => a.action === 'schedule.create' && a.scheduleId === s.id && a.decision === 'allow' && a.who === 'shop'));
});

test('validation names the field: every, cron, timeZone, keepRuns, trace.*', async () => {
  const cases: [unknown, string, RegExp][] = [
    [{ trace, every: '1m' }, 'every', /shorter than this server's minimum of 5m \(SCHEDULE_MIN_INTERVAL\)/],
    [{ trace, every: 'hourly' }, 'every', /not an interval/],
    [{ trace }, 'every', /required \(or cron\)/],
    [{ trace, every: '1h', cron: '0 * * * *' }, 'every', /not both/],
    [{ trace, cron: '* * * * *' }, 'cron', /runs 1m apart/],
    [{ trace, cron: '0 25 * * *' }, 'cron', /not a cron pattern/],
    [{ trace, cron: '0 3 * * *', timeZone: 'Europe/Atlantis' }, 'timeZone', /not an IANA time zone/],
    [{ trace, every: '1h', keepRuns: 0 }, 'keepRuns', /keepRuns/],
    [{ trace, every: '1h', extra: 1 }, 'extra', /unknown field/],
    [{ trace: { ...trace, target: {} }, every: '1h' }, 'trace.target.namespace', /required/],
    [{ trace: { ...trace, gadget: 'kprobe' }, every: '1h' }, 'trace.gadget', /must be one of/],
    [{ trace: { ...trace, params: { failedOnly: 'yes' } }, every: '1h' }, 'trace.params.failedOnly', /failedOnly/],
    [{ trace: { ...trace, target: { namespace: 'shop', pids: [1] } }, every: '1h' }, 'trace.target.pids', /local targets need the local backend/],
  ];
  for (const [payload, field, message] of cases) {
    const res = await post(SHOP, payload);
    assert.equal(res.statusCode, 400, `${JSON.stringify(payload)}: ${res.body}`);
    assert.equal(res.json().field, field, res.body);
    assert.match(res.json().message, message, res.body);
  }
});

test('the policy applies as for a trace: namespace, gadget, duration → 403 naming the field', async () => {
  const cases: [unknown, string][] = [
    [{ trace: { ...trace, target: { namespace: 'kube-system' } }, every: '1h' }, 'trace.target.namespace'],
    [{ trace: { ...trace, gadget: 'bind' }, every: '1h' }, 'trace.gadget'],
    [{ trace: { ...trace, durationSeconds: 120 }, every: '1h' }, 'trace.durationSeconds'],
  ];
  for (const [payload, field] of cases) {
    const res = await post(SHOP, payload);
    assert.equal(res.statusCode, 403, res.body);
    assert.equal(res.json().field, field);
  }
  assert.equal((await post('tj_wrong', { trace, every: '1h' })).statusCode, 401);
});

test("another namespace's schedule is a 404 to read and to delete, and is left out of the list", async () => {
  const mine = (await post(SHOP, { trace, every: '1h' })).json();
  for (const method of ['GET', 'DELETE'] as const) {
    const res = await api.app.inject({ method, url: `/v1/schedules/${mine.id}`, headers: auth(OTHER) });
    assert.equal(res.statusCode, 404, `${method}: ${res.body}`);
    assert.equal(res.json().message, `no schedule ${mine.id}`, 'the same answer as for no schedule at all');
  }
  const missing = await api.app.inject({ url: '/v1/schedules/00000000-0000-4000-8000-000000000000', headers: auth(OTHER) });
  assert.equal(missing.json().message, 'no schedule 00000000-0000-4000-8000-000000000000');
  const list = await api.app.inject({ url: '/v1/schedules', headers: auth(OTHER) });
  assert.deepEqual(list.json().items, []);
  assert.equal((await api.app.inject({ url: '/v1/schedules/not-an-id', headers: auth(SHOP) })).statusCode, 400);
  assert.equal((await api.app.inject({ method: 'DELETE', url: `/v1/schedules/${mine.id}`, headers: auth(SHOP) })).statusCode, 204);
  assert.equal((await api.app.inject({ url: `/v1/schedules/${mine.id}`, headers: auth(SHOP) })).statusCode, 404);
});

test('per-caller limit: maxSchedules of the policy → 429; deleting one makes room', async () => {
  const first = await post(LIMITED, { trace, every: '1h' });
  assert.equal(first.statusCode, 201, first.body);
  const second = await post(LIMITED, { trace, every: '2h' });
  assert.equal(second.statusCode, 429, second.body);
  assert.match(second.json().message, /limited already has 1 schedules \(limit 1\)/);
  assert.equal((await api.app.inject({ method: 'DELETE', url: `/v1/schedules/${first.json().id}`, headers: auth(LIMITED) })).statusCode, 204);
  assert.equal((await post(LIMITED, { trace, every: '2h' })).statusCode, 201);
});
