/**
 * Resumable downloads (filesystem store, real Redis): a node's events.ndjson and the trace bundle
 * carry a strong ETag; a Range with the current If-Range is answered 206 with exactly the rest, a
 * stale one with the whole download; a range past the end is 416; the bundle is the same bytes for
 * the same results and another tag once a node is uploaded again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAppFixture, type AppFixture } from '../../../test/support/app-fixture.ts';
import { createOpenTrace, ndjson, openEvents, resultArchive, uploadToken } from '../../../test/support/node-results.ts';

let fx: AppFixture;
let id: string;
const A = openEvents(3000, { node: 'node-a', pods: ['web-1', 'web-2'] });
const text = ndjson(A);

async function upload(traceId: string, node: string, body: Buffer) {
  const res = await fx.app.inject({
    method: 'PUT',
    url: `/v1/traces/${traceId}/nodes/${node}/result`,
    payload: body,
    headers: { 'content-type': 'application/gzip', authorization: `Bearer ${uploadToken(fx.config.uploadTokenSecret, traceId, node)}` },
  });
  assert.equal(res.statusCode, 201, res.body);
}

before(async () => {
  fx = await startAppFixture({ MAX_RESULT_BYTES: String(64 * 1024 * 1024) });
  id = await createOpenTrace(fx.traces);
  await upload(id, 'node-a', await resultArchive(id, 'node-a', A));
});
after(async () => {
  await fx?.close();
});

describe("GET /v1/traces/:id/nodes/:node/events (a node's NDJSON as uploaded)", () => {
  const url = () => `/v1/traces/${id}/nodes/node-a/events`;

  test('whole: the uploaded bytes, their length, a strong ETag, ranges accepted', async () => {
    const res = await fx.app.inject({ url: url() });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, text);
    assert.equal(res.headers['content-length'], String(Buffer.byteLength(text)));
    assert.equal(res.headers['accept-ranges'], 'bytes');
    assert.match(String(res.headers.etag), /^"[^"]+"$/);
    assert.equal((await fx.app.inject({ url: url(), headers: { 'if-none-match': String(res.headers.etag) } })).statusCode, 304);
  });

  test('a cut download resumes: Range + the current If-Range is 206 with exactly the rest', async () => {
    const etag = String((await fx.app.inject({ url: url() })).headers.etag);
    const size = Buffer.byteLength(text);
    const cut = 123_457;
    const rest = await fx.app.inject({ url: url(), headers: { range: `bytes=${cut}-`, 'if-range': etag } });
    assert.equal(rest.statusCode, 206);
    assert.equal(rest.headers['content-range'], `bytes ${cut}-${size - 1}/${size}`);
    assert.equal(rest.headers['content-length'], String(size - cut));
    assert.equal(Buffer.concat([Buffer.from(text).subarray(0, cut), rest.rawPayload]).toString(), text);
    const middle = await fx.app.inject({ url: url(), headers: { range: 'bytes=10-19' } });
    assert.equal(middle.statusCode, 206);
    assert.equal(middle.body, text.slice(10, 20));
  });

  test('a stale If-Range gets the whole file; a range past the end is 416 with the size', async () => {
    const stale = await fx.app.inject({ url: url(), headers: { range: 'bytes=100-', 'if-range': '"an-older-upload"' } });
    assert.equal(stale.statusCode, 200);
    assert.equal(stale.body, text);
    const past = await fx.app.inject({ url: url(), headers: { range: `bytes=${Buffer.byteLength(text)}-` } });
    assert.equal(past.statusCode, 416);
    assert.equal(past.headers['content-range'], `bytes */${Buffer.byteLength(text)}`);
    const body = past.json() as { error: string; field: string; message: string };
    assert.deepEqual([body.error, body.field, typeof body.message], ['range_not_satisfiable', 'Range', 'string']);
  });

  test('a node without a result and an unknown trace are 404; a bad node name is 400', async () => {
    assert.equal((await fx.app.inject({ url: `/v1/traces/${id}/nodes/node-z/events` })).statusCode, 404);
    assert.equal((await fx.app.inject({ url: '/v1/traces/00000000-0000-4000-8000-000000000000/nodes/node-a/events' })).statusCode, 404);
    const bad = await fx.app.inject({ url: `/v1/traces/${id}/nodes/..%2f..%2fetc/events` });
    assert.ok(bad.statusCode === 400 || bad.statusCode === 404, bad.body);
  });

  test('after a re-upload the tag changes, and a resume with the old tag gets the new file whole', async () => {
    const traceId = await createOpenTrace(fx.traces);
    await upload(traceId, 'node-b', await resultArchive(traceId, 'node-b', openEvents(50, { node: 'node-b' })));
    const first = await fx.app.inject({ url: `/v1/traces/${traceId}/nodes/node-b/events` });
    const second = openEvents(80, { node: 'node-b', pods: ['other'] });
    await upload(traceId, 'node-b', await resultArchive(traceId, 'node-b', second));
    const resumed = await fx.app.inject({ url: `/v1/traces/${traceId}/nodes/node-b/events`, headers: { range: 'bytes=100-', 'if-range': String(first.headers.etag) } });
    assert.equal(resumed.statusCode, 200);
    assert.notEqual(resumed.headers.etag, first.headers.etag);
    assert.equal(resumed.body, ndjson(second));
  });
});

describe('GET /v1/traces/:id/bundle: the same bytes for the same results, resumable once its length is known', () => {
  test('two downloads are the same bytes under the same tag; then the length and ranges are given', async () => {
    const url = `/v1/traces/${id}/bundle`;
    const first = await fx.app.inject({ url });
    assert.equal(first.statusCode, 200);
    const second = await fx.app.inject({ url });
    assert.equal(second.headers.etag, first.headers.etag);
    assert.ok(second.rawPayload.equals(first.rawPayload), 'deterministic bytes');
    assert.equal(second.headers['content-length'], String(first.rawPayload.length));
    assert.equal(second.headers['accept-ranges'], 'bytes');
    const cut = Math.floor(first.rawPayload.length / 3);
    const rest = await fx.app.inject({ url, headers: { range: `bytes=${cut}-`, 'if-range': String(first.headers.etag) } });
    assert.equal(rest.statusCode, 206);
    assert.equal(rest.headers['content-range'], `bytes ${cut}-${first.rawPayload.length - 1}/${first.rawPayload.length}`);
    assert.ok(Buffer.concat([first.rawPayload.subarray(0, cut), rest.rawPayload]).equals(first.rawPayload));
    const stale = await fx.app.inject({ url, headers: { range: `bytes=${cut}-`, 'if-range': '"stale"' } });
    assert.equal(stale.statusCode, 200);
    assert.ok(stale.rawPayload.equals(first.rawPayload));
  });

  test('a new upload changes the tag; a bundle not yet assembled whole is sent whole (no ranges yet)', async () => {
    const traceId = await createOpenTrace(fx.traces);
    await upload(traceId, 'node-c', await resultArchive(traceId, 'node-c', openEvents(20, { node: 'node-c' })));
    const before = await fx.app.inject({ url: `/v1/traces/${traceId}/bundle` });
    await upload(traceId, 'node-d', await resultArchive(traceId, 'node-d', openEvents(20, { node: 'node-d' })));
    const fresh = await fx.app.inject({ url: `/v1/traces/${traceId}/bundle`, headers: { range: 'bytes=10-', 'if-range': String(before.headers.etag) } });
    assert.equal(fresh.statusCode, 200);
    assert.notEqual(fresh.headers.etag, before.headers.etag);
    assert.equal(fresh.headers['accept-ranges'], 'none');
    assert.equal(fresh.headers['content-length'], undefined);
  });
});
