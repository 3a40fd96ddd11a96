/**
 * PUT /v1/traces/:id/nodes/:node/progress against a real Redis: a runner's report shows in
 * GET /v1/traces/:id as the node's tracingSince and live counts; only the node's own upload token
 * is accepted; the answer carries the cancel mark.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { issueUploadToken } from '../../../state/src/upload-token.ts';
import { startAppFixture, type AppFixture } from '../../../test/support/app-fixture.ts';

let fx: AppFixture;
before(async () => {
  fx = await startAppFixture();
});
after(async () => {
  await fx.close();
});

/** A trace the scheduler has started on node `n1` (the record as the scheduler writes it). */
async function runningTrace(): Promise<string> {
  const id = randomUUID();
  await fx.traces.create(id, { gadget: 'exec', durationSeconds: 30, target: { cgroupPaths: ['x'] }, params: {}, limits: { maxEvents: 100 } });
  await fx.traces.markRunning(id);
  await fx.traces.setNodeStatus(id, 'n1', 'running', { startedAt: new Date().toISOString() });
  return id;
}

function report(id: string, node: string, body: unknown, token = issueUploadToken(fx.config.uploadTokenSecret, id, node, new Date(Date.now() + 60_000))) {
  return fx.app.inject({
    method: 'PUT',
    url: `/v1/traces/${id}/nodes/${node}/progress`,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    payload: JSON.stringify(body),
  });
}

test('a progress report shows as the node\'s tracingSince and live counts; the final result replaces the counts', async () => {
  const id = await runningTrace();
  const before = (await fx.app.inject({ url: `/v1/traces/${id}` })).json();
  assert.equal(before.nodes[0].tracingSince, undefined);
  assert.deepEqual(before.tracing, { nodes: 0, of: 1 });

  const tracingSince = '2026-12-01T10:00:00.123Z';
  const res = await report(id, 'n1', { tracingSince, events: 40, lostEvents: 2 });
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), { cancelRequested: false });
  const live = (await fx.app.inject({ url: `/v1/traces/${id}` })).json();
  assert.equal(live.nodes[0].tracingSince, tracingSince);
  assert.equal(live.nodes[0].events, 40);
  assert.equal(live.nodes[0].lostEvents, 2);
  assert.match(live.nodes[0].progressAt, /^\d{4}-\d\d-\d\dT/);
  assert.deepEqual(live.counts, { events: 40, lostEvents: 2 });
  assert.deepEqual(live.tracing, { nodes: 1, of: 1 });

  await report(id, 'n1', { tracingSince, events: 90, lostEvents: 2 });
  assert.equal((await fx.app.inject({ url: `/v1/traces/${id}` })).json().nodes[0].events, 90, 'newer counts replace older ones');

  // The scheduler's final node state wins over the last live counts; tracingSince stays.
  const current = (await fx.traces.get(id))!.nodes[0]!;
  await fx.traces.setNodeState(id, { ...current, status: 'succeeded', events: 95, lostEvents: 2, finishedAt: new Date().toISOString() });
  await report(id, 'n1', { tracingSince, events: 91, lostEvents: 2 });
  const done = (await fx.app.inject({ url: `/v1/traces/${id}` })).json();
  assert.equal(done.nodes[0].events, 95);
  assert.equal(done.nodes[0].tracingSince, tracingSince);
});

test('the answer tells the runner to stop once the trace is cancelled', async () => {
  const id = await runningTrace();
  const body = { tracingSince: new Date().toISOString(), events: 1, lostEvents: 0 };
  assert.deepEqual((await report(id, 'n1', body)).json(), { cancelRequested: false });
  assert.equal((await fx.app.inject({ method: 'DELETE', url: `/v1/traces/${id}` })).statusCode, 202);
  assert.deepEqual((await report(id, 'n1', body)).json(), { cancelRequested: true });
});

test('only the upload token of this trace and node is accepted; unknown traces are 404; bad bodies 400 naming the field', async () => {
  const id = await runningTrace();
  const body = { tracingSince: new Date().toISOString(), events: 1, lostEvents: 0 };
  const none = await fx.app.inject({ method: 'PUT', url: `/v1/traces/${id}/nodes/n1/progress`, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  assert.equal(none.statusCode, 401);
  const otherNode = issueUploadToken(fx.config.uploadTokenSecret, id, 'n2', new Date(Date.now() + 60_000));
  assert.equal((await report(id, 'n1', body, otherNode)).statusCode, 403);
  const otherTrace = issueUploadToken(fx.config.uploadTokenSecret, randomUUID(), 'n1', new Date(Date.now() + 60_000));
  assert.equal((await report(id, 'n1', body, otherTrace)).statusCode, 403);
  const expired = issueUploadToken(fx.config.uploadTokenSecret, id, 'n1', new Date(Date.now() - 1000));
  assert.equal((await report(id, 'n1', body, expired)).statusCode, 403);
  assert.equal((await fx.app.inject({ url: `/v1/traces/${id}` })).json().nodes[0].tracingSince, undefined, 'nothing refused was recorded');

  const missing = randomUUID();
  assert.equal((await report(missing, 'n1', body)).statusCode, 404);

  for (const [bad, field] of [
    [{ ...body, events: -1 }, 'events'],
    [{ ...body, lostEvents: 1.5 }, 'lostEvents'],
    [{ ...body, tracingSince: 'yesterday' }, 'tracingSince'],
    [{ events: 1, lostEvents: 0 }, 'tracingSince'],
    [{ ...body, extra: 1 }, 'extra'],
  ] as const) {
    const res = await report(id, 'n1', bad);
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().field, field, res.body);
  }
});
