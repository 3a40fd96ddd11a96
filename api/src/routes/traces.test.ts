import assert from 'node:assert/strict';
import { untarGzText } from '../../../test/support/tar.ts';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../../test/support/cgroups.ts';
import { issueUploadToken } from '../../../state/src/upload-token.ts';
import { expireResults } from '../store/expire-results.ts';
import { startAppFixture, type AppFixture } from '../../../test/support/app-fixture.ts';

async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const [name, text] of Object.entries(files)) pack.entry({ name }, text);
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

function summary(traceId: string, node: string, events: number) {
  return JSON.stringify({
    traceId, node, gadget: 'exec', startedAt: new Date().toISOString(), stoppedAt: new Date().toISOString(), stopReason: 'deadline',
    events, lostEvents: 2, truncated: false, perContainer: [], top: { comm: [{ value: 'ls', count: events }] }, targetsNotFound: [], cgroupIds: [1],
  });
}

const skip = kernelTestSkipReason();
let fx: AppFixture;
let k8s: AppFixture;
let cg: TestCgroup | undefined;
const local = () => ({ cgroupPaths: [cg ? cg.relPath : '.'] });

before(async () => {
  fx = await startAppFixture({ MAX_DURATION_SECONDS: '60', MAX_EVENTS_PER_NODE: '1000', MAX_RESULT_BYTES: '4096', RETENTION_SECONDS: '1' });
  k8s = await startAppFixture({ BACKEND: 'kubernetes' }, { redis: fx.redis });
  if (!skip) cg = createTestCgroup(uniqueCgroupPath('api'));
});
after(async () => {
  await cg?.destroy();
  await k8s.close();
  await fx.close();
});

async function post(body: unknown, headers: Record<string, string> = {}, f = fx) {
  return f.app.inject({ method: 'POST', url: '/v1/traces', payload: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
}

async function expectInvalid(body: unknown, field: string, f = fx, headers: Record<string, string> = {}) {
  const res = await post(body, headers, f);
  assert.equal(res.statusCode, 400, res.body);
  const json = res.json();
  assert.equal(json.error, 'invalid');
  assert.equal(json.field, field, res.body);
  assert.match(json.message, /\S/);
}

describe('POST /v1/traces validation: one test per field', () => {
  const ok = () => ({ gadget: 'exec', durationSeconds: 5, target: local() });
  test('body that is not JSON', () => expectInvalid('{not json', 'body'));
  test('unknown top-level field (e.g. the runner image) is refused', () => expectInvalid({ ...ok(), image: 'evil:latest' }, 'image'));
  test('gadget missing', () => expectInvalid({ durationSeconds: 5, target: local() }, 'gadget'));
  test('gadget not in the catalogue', () => expectInvalid({ ...ok(), gadget: 'kprobe-anything' }, 'gadget'));
  test('durationSeconds below 1', () => expectInvalid({ ...ok(), durationSeconds: 0 }, 'durationSeconds'));
  test('durationSeconds above the server cap', () => expectInvalid({ ...ok(), durationSeconds: 61 }, 'durationSeconds'));
  test('durationSeconds as a string is not coerced', () => expectInvalid({ ...ok(), durationSeconds: '5' }, 'durationSeconds'));
  test('durationSeconds not whole', () => expectInvalid({ ...ok(), durationSeconds: 1.5 }, 'durationSeconds'));
  test('target missing', () => expectInvalid({ gadget: 'exec' }, 'target'));
  test('target unknown field (host paths cannot be set)', () => expectInvalid({ ...ok(), target: { ...local(), hostPath: '/' } }, 'target.hostPath'));
  test('target with nothing to trace (local)', () => expectInvalid({ ...ok(), target: {} }, 'target'));
  test('target.namespace required on kubernetes', () => expectInvalid({ gadget: 'exec', target: { podName: 'web-1' } }, 'target.namespace', k8s));
  test('target.namespace malformed', () => expectInvalid({ gadget: 'exec', target: { namespace: 'Bad_NS' } }, 'target.namespace', k8s));
  test('target.labelSelector malformed', () => expectInvalid({ gadget: 'exec', target: { namespace: 'shop', labelSelector: 'app=web;rm -rf' } }, 'target.labelSelector', k8s));
  test('target.podName malformed', () => expectInvalid({ gadget: 'exec', target: { namespace: 'shop', podName: 'Web/1' } }, 'target.podName', k8s));
  test('target.containerName malformed', () => expectInvalid({ gadget: 'exec', target: { namespace: 'shop', containerName: 'a b' } }, 'target.containerName', k8s));
  test('target.nodeName malformed', () => expectInvalid({ gadget: 'exec', target: { namespace: 'shop', nodeName: '../etc' } }, 'target.nodeName', k8s));
  test('local targets refused on kubernetes', () => expectInvalid({ gadget: 'exec', target: { namespace: 'shop', pids: [1] } }, 'target.pids', k8s));
  test('kubernetes targets refused on the local backend', () => expectInvalid({ ...ok(), target: { namespace: 'shop' } }, 'target.namespace'));
  test('target.containerIds item malformed', () => expectInvalid({ ...ok(), target: { containerIds: ['$(reboot)'] } }, 'target.containerIds.0'));
  test('target.containerIds empty', () => expectInvalid({ ...ok(), target: { containerIds: [] } }, 'target.containerIds'));
  test('target.pids item not a positive integer', () => expectInvalid({ ...ok(), target: { pids: [0] } }, 'target.pids.0'));
  test('target.cgroupPaths item escaping with ..', () => expectInvalid({ ...ok(), target: { cgroupPaths: ['a/../../etc'] } }, 'target.cgroupPaths.0'));
  test('params not an object', () => expectInvalid({ ...ok(), params: 'x' }, 'params'));
  test('params field the gadget does not know', () => expectInvalid({ ...ok(), params: { noSuchParam: 1 } }, 'params.noSuchParam'));
  test('params field of the wrong type for the gadget', () => expectInvalid({ ...ok(), params: { failedOnly: 'yes' } }, 'params.failedOnly'));
  test('profile: frequencyHz out of 1…1000', () => expectInvalid({ ...ok(), gadget: 'profile', params: { frequencyHz: 5000 } }, 'params.frequencyHz'));
  test('profile: a startup trace (profile reports only at the end)', () =>
    expectInvalid({ ...ok(), gadget: 'profile', target: { cgroupPaths: [local().cgroupPaths[0]!], startup: true } }, 'target.startup'));
  test('limits.maxEvents below 1', () => expectInvalid({ ...ok(), limits: { maxEvents: 0 } }, 'limits.maxEvents'));
  test('limits.maxEvents above the per-node cap', () => expectInvalid({ ...ok(), limits: { maxEvents: 1001 } }, 'limits.maxEvents'));
  test('limits unknown field', () => expectInvalid({ ...ok(), limits: { maxBytes: 1 } }, 'limits.maxBytes'));
  test('callbackUrl not http(s)', () => expectInvalid({ ...ok(), callbackUrl: 'file:///etc/passwd' }, 'callbackUrl'));
  test('Idempotency-Key too long', () => expectInvalid(ok(), 'idempotency-key', fx, { 'idempotency-key': 'k'.repeat(300) }));
});

describe('POST /v1/traces: 422 for local targets that do not exist', { skip }, () => {
  test('a cgroup path with no directory', async () => {
    const res = await post({ gadget: 'exec', target: { cgroupPaths: ['tracejob-no-such-cgroup/x'] } });
    assert.equal(res.statusCode, 422, res.body);
    assert.equal(res.json().field, 'target');
    assert.match(res.json().message, /tracejob-no-such-cgroup/);
  });
  test('a pid with no process', async () => {
    const res = await post({ gadget: 'exec', target: { pids: [4_194_000] } });
    assert.equal(res.statusCode, 422, res.body);
    assert.match(res.json().message, /pid 4194000/);
  });
});

describe('traces', { skip }, () => {
  test('POST answers 202 queued with links, and the trace is queued in BullMQ', async () => {
    const res = await post({ gadget: 'exec', durationSeconds: 3, target: local() });
    assert.equal(res.statusCode, 202, res.body);
    const body = res.json();
    assert.equal(body.status, 'queued');
    assert.equal(body.links.self, `/v1/traces/${body.id}`);
    assert.equal(res.headers.location, `/v1/traces/${body.id}`);
    assert.equal(await fx.client.exists(`bull:traces:${body.id}`), 1);
    const got = (await fx.app.inject({ url: `/v1/traces/${body.id}` })).json();
    assert.equal(got.status, 'queued');
    assert.equal(got.durationSeconds, 3);
    assert.equal(got.limits.maxEvents, 1000);
  });

  test('idempotent re-POST: same key and body → same trace; other body → 409', async () => {
    const body = { gadget: 'exec', durationSeconds: 4, target: local() };
    const a = await post(body, { 'idempotency-key': 'k-1' });
    const b = await post({ target: body.target, durationSeconds: 4, gadget: 'exec' }, { 'idempotency-key': 'k-1' });
    assert.equal(a.statusCode, 202);
    assert.equal(b.statusCode, 202);
    assert.equal(a.json().id, b.json().id);
    const c = await post({ ...body, durationSeconds: 5 }, { 'idempotency-key': 'k-1' });
    assert.equal(c.statusCode, 409, c.body);
    assert.equal(c.json().error, 'conflict');
    const d = await post(body, { 'idempotency-key': 'k-2' });
    assert.notEqual(d.json().id, a.json().id);
  });

  test('GET /v1/traces pages with a cursor and filters by status and gadget', async () => {
    for (let i = 0; i < 3; i += 1) await post({ gadget: 'exec', target: local() });
    const seen = new Set<string>();
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await fx.app.inject({ url: `/v1/traces?limit=2${cursor ? `&cursor=${cursor}` : ''}` });
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json();
      assert.ok(page.items.length <= 2);
      for (const t of page.items) {
        assert.ok(!seen.has(t.id), 'no trace twice across pages');
        seen.add(t.id);
      }
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    assert.ok(seen.size >= 5 && pages >= 3);
    const queued = (await fx.app.inject({ url: '/v1/traces?status=queued&limit=500' })).json();
    assert.equal(queued.items.length, seen.size);
    const none = (await fx.app.inject({ url: '/v1/traces?status=succeeded' })).json();
    assert.equal(none.items.length, 0);
    const bad = await fx.app.inject({ url: '/v1/traces?status=done' });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().field, 'status');
    const badCursor = await fx.app.inject({ url: '/v1/traces?cursor=abc' });
    assert.equal(badCursor.statusCode, 400);
    assert.equal(badCursor.json().field, 'cursor');
  });

  test('DELETE of a queued trace cancels it and removes its job', async () => {
    const id = (await post({ gadget: 'exec', target: local() })).json().id;
    const res = await fx.app.inject({ method: 'DELETE', url: `/v1/traces/${id}` });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(res.json().status, 'cancelled');
    assert.equal((await fx.app.inject({ url: `/v1/traces/${id}` })).json().status, 'cancelled');
    assert.equal(await fx.client.exists(`bull:traces:${id}`), 0);
  });

  test('upload endpoint: token checks, size cap, archive checks, then events, bundle, delete', async () => {
    const id = (await post({ gadget: 'exec', target: local() })).json().id;
    const url = `/v1/traces/${id}/nodes/test-node/result`;
    const later = new Date(Date.now() + 60_000);
    const token = issueUploadToken(fx.config.uploadTokenSecret, id, 'test-node', later);
    const events = [
      { timestamp: 1, pid: 10, comm: 'ls', node: 'test-node', pod: 'web-1', container: 'app', gadget: 'exec' },
      { timestamp: 2, pid: 11, comm: 'sh', node: 'test-node', pod: 'web-2', container: 'app', gadget: 'exec' },
      { timestamp: 3, pid: 12, comm: 'id', node: 'test-node', pod: 'web-1', container: 'side', gadget: 'exec' },
    ];
    const good = await tarGz({ 'events.ndjson': events.map((e) => JSON.stringify(e)).join('\n') + '\n', 'summary.json': summary(id, 'test-node', 3) });
    const put = (payload: Buffer, auth?: string, u = url) =>
      fx.app.inject({ method: 'PUT', url: u, payload, headers: { 'content-type': 'application/gzip', ...(auth ? { authorization: `Bearer ${auth}` } : {}) } });

    assert.equal((await put(good)).statusCode, 401);
    assert.equal((await put(good, issueUploadToken(fx.config.uploadTokenSecret, id, 'other-node', later))).statusCode, 403);
    assert.equal((await put(good, token, `/v1/traces/${id}/nodes/other-node/result`)).statusCode, 403);
    const tooBig = await put(Buffer.alloc(5000, 1), token);
    assert.equal(tooBig.statusCode, 413, tooBig.body);
    const notGz = await put(Buffer.from('plain text'), token);
    assert.equal(notGz.statusCode, 400, notGz.body);
    const noSummary = await put(await tarGz({ 'events.ndjson': '' }), token);
    assert.equal(noSummary.statusCode, 400);
    assert.match(noSummary.json().message, /summary\.json/);
    const extra = await put(await tarGz({ 'events.ndjson': '', 'summary.json': summary(id, 'test-node', 0), '../../evil': 'x' }), token);
    assert.equal(extra.statusCode, 400);

    const ok = await put(good, token);
    assert.equal(ok.statusCode, 201, ok.body);
    const view = (await fx.app.inject({ url: `/v1/traces/${id}` })).json();
    assert.equal(view.counts.events, 3);
    assert.equal(view.counts.lostEvents, 2);

    const ndjson = await fx.app.inject({ url: `/v1/traces/${id}/events` });
    assert.equal(ndjson.headers['content-type'], 'application/x-ndjson');
    assert.deepEqual(ndjson.body.trim().split('\n').map((l) => JSON.parse(l).pid), [10, 11, 12]);
    const byPod = await fx.app.inject({ url: `/v1/traces/${id}/events?pod=web-1` });
    assert.deepEqual(byPod.body.trim().split('\n').map((l) => JSON.parse(l).pid), [10, 12]);
    const byContainer = (await fx.app.inject({ url: `/v1/traces/${id}/events?container=side&limit=10` })).json();
    assert.deepEqual(byContainer.items.map((e: { pid: number }) => e.pid), [12]);
    const otherNode = await fx.app.inject({ url: `/v1/traces/${id}/events?node=nope` });
    assert.equal(otherNode.body, '');

    const p1 = (await fx.app.inject({ url: `/v1/traces/${id}/events?limit=2` })).json();
    assert.deepEqual(p1.items.map((e: { pid: number }) => e.pid), [10, 11]);
    const p2 = (await fx.app.inject({ url: `/v1/traces/${id}/events?limit=2&cursor=${p1.nextCursor}` })).json();
    assert.deepEqual(p2.items.map((e: { pid: number }) => e.pid), [12]);
    assert.equal(p2.nextCursor, undefined);

    const bundle = await fx.app.inject({ url: `/v1/traces/${id}/bundle` });
    assert.equal(bundle.statusCode, 200);
    assert.equal(bundle.headers['content-type'], 'application/gzip');
    const files = await untarGzText(bundle.rawPayload);
    assert.deepEqual([...files.keys()].sort(), ['manifest.json', 'nodes/test-node/events.ndjson', 'nodes/test-node/summary.json', 'summary.json']);
    const manifest = JSON.parse(files.get('manifest.json')!);
    assert.equal(manifest.traceId, id);
    assert.equal(manifest.request.gadget, 'exec');
    assert.ok(manifest.versions.tracejob);
    assert.equal(JSON.parse(files.get('summary.json')!).events, 3);
    assert.equal(files.get('nodes/test-node/events.ndjson')!.trim().split('\n').length, 3);

    // finish it, then DELETE removes the record and the results
    await fx.traces.finish(id, 'succeeded');
    const del = await fx.app.inject({ method: 'DELETE', url: `/v1/traces/${id}` });
    assert.equal(del.statusCode, 204);
    assert.equal((await fx.app.inject({ url: `/v1/traces/${id}` })).statusCode, 404);
    assert.deepEqual(await fx.results.nodes(id), []);
    assert.equal((await put(good, token)).statusCode, 404);
  });

  test('expiry: a finished trace and its results are gone after the retention period', async () => {
    const id = (await post({ gadget: 'exec', target: local() })).json().id;
    const token = issueUploadToken(fx.config.uploadTokenSecret, id, 'test-node', new Date(Date.now() + 60_000));
    const up = await fx.app.inject({
      method: 'PUT',
      url: `/v1/traces/${id}/nodes/test-node/result`,
      payload: await tarGz({ 'events.ndjson': '{"pid":1}\n', 'summary.json': summary(id, 'test-node', 1) }),
      headers: { 'content-type': 'application/gzip', authorization: `Bearer ${token}` },
    });
    assert.equal(up.statusCode, 201);
    await fx.traces.finish(id, 'succeeded');
    assert.equal((await fx.app.inject({ url: `/v1/traces/${id}` })).statusCode, 200);
    await sleep(2100);
    assert.equal((await fx.app.inject({ url: `/v1/traces/${id}` })).statusCode, 404);
    const removed = await expireResults(fx.traces, fx.results);
    assert.ok(removed.includes(id));
    assert.deepEqual(await fx.results.nodes(id), []);
  });
});

describe('404s, ids, health, docs, gadgets', () => {
  const missing = '00000000-0000-4000-8000-000000000000';
  for (const [method, path] of [['GET', ''], ['GET', '/events'], ['GET', '/bundle'], ['DELETE', '']] as const) {
    test(`${method} /v1/traces/:id${path} of an unknown trace → 404`, async () => {
      const res = await fx.app.inject({ method, url: `/v1/traces/${missing}${path}` });
      assert.equal(res.statusCode, 404);
      assert.equal(res.json().error, 'not_found');
    });
  }
  test('a malformed id is a 400 naming id (no path tricks reach the store)', async () => {
    const res = await fx.app.inject({ url: '/v1/traces/..%2F..%2Fetc/bundle' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().field, 'id');
  });
  test('unknown route → 404 JSON', async () => {
    const res = await fx.app.inject({ url: '/v2/nothing' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error, 'not_found');
  });
  test('/healthz, /readyz, /metrics', async () => {
    assert.equal((await fx.app.inject({ url: '/healthz' })).statusCode, 200);
    assert.equal((await fx.app.inject({ url: '/readyz' })).statusCode, 200);
    const m = await fx.app.inject({ url: '/metrics' });
    assert.match(m.body, /tracejob_traces_total/);
    assert.match(m.body, /tracejob_queue_depth \d+/);
    assert.match(m.body, /tracejob_upload_bytes_total/);
  });
  test('OpenAPI document at /docs/json has the routes and the request schema', async () => {
    const doc = (await fx.app.inject({ url: '/docs/json' })).json();
    assert.ok(doc.paths['/v1/traces'].post);
    assert.ok(doc.paths['/v1/traces/{id}/bundle'].get);
    const schema = doc.paths['/v1/traces'].post.requestBody.content['application/json'].schema;
    assert.equal(schema.additionalProperties, false);
    assert.equal(schema.properties.durationSeconds.maximum, 60);
  });
  test('GET /v1/gadgets lists exec with its fields', async () => {
    const res = (await fx.app.inject({ url: '/v1/gadgets' })).json();
    const exec = res.items.find((g: { name: string }) => g.name === 'exec');
    assert.ok(exec);
    assert.ok(exec.fields.length > 0);
  });
});
