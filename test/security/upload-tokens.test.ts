/**
 * Runner upload tokens on the real upload route: signed, bound to (trace, node), expiring; one
 * result per node unless the same upload is retried; uploads over MAX_RESULT_BYTES are 413.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { parseAuthConfig } from '../../api/src/auth/access-policy.ts';
import { hashApiToken } from '../../api/src/auth/api-token-hash.ts';
import { issueUploadToken } from '../../state/src/upload-token.ts';
import { resultUpload, tarGz, nodeSummary } from './result-archive.ts';
import { startSecuredApp, type SecuredApp } from './secured-app.ts';

const OPS = 'tok-ops-upload-tests';
const auth = parseAuthConfig({ tokens: [{ name: 'ops', sha256: hashApiToken(OPS), namespaces: ['*'] }] }, 'test');
let fx: SecuredApp;
let traceId: string;
const soon = () => new Date(Date.now() + 60_000);

before(async () => {
  fx = await startSecuredApp(auth, { MAX_RESULT_BYTES: '4096' });
  const res = await fx.app.inject({ method: 'POST', url: '/v1/traces', payload: { gadget: 'exec', durationSeconds: 5, target: { namespace: 'shop' } }, headers: { authorization: `Bearer ${OPS}` } });
  assert.equal(res.statusCode, 202, res.body);
  traceId = res.json().id;
});
after(async () => {
  await fx?.close();
});

function put(node: string, body: Buffer, token: string | undefined, headers: Record<string, string> = {}, id = traceId) {
  return fx.app.inject({
    method: 'PUT',
    url: `/v1/traces/${id}/nodes/${node}/result`,
    payload: body,
    headers: { 'content-type': 'application/gzip', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...headers },
  });
}

function errorOf(res: { statusCode: number; body: string }, status: number): { error: string; message: string } {
  assert.equal(res.statusCode, status, res.body);
  const json = JSON.parse(res.body) as { error: string; message: string };
  assert.match(json.message, /\S/);
  return json;
}

test('a good token stores the result; expired, forged, wrong-node and wrong-trace tokens are refused', async () => {
  const secret = fx.config.uploadTokenSecret;
  const body = await resultUpload(traceId, 'node-a', 3);
  const expired = issueUploadToken(secret, traceId, 'node-a', new Date(Date.now() - 1000));
  assert.match(errorOf(await put('node-a', body, expired), 403).message, /expired/);
  const otherSecret = issueUploadToken('z'.repeat(40), traceId, 'node-a', soon());
  assert.match(errorOf(await put('node-a', body, otherSecret), 403).message, /bad-signature/);
  const good = issueUploadToken(secret, traceId, 'node-b', soon());
  const payload = Buffer.from(JSON.stringify({ t: traceId, n: 'node-a', e: 9_999_999_999 })).toString('base64url');
  const forged = `${payload}.${good.split('.')[1]}`;
  assert.match(errorOf(await put('node-a', body, forged), 403).message, /bad-signature/);
  assert.match(errorOf(await put('node-a', body, good), 403).message, /wrong-node/);
  const otherTrace = '11111111-2222-4333-8444-555555555555';
  assert.match(errorOf(await put('node-b', body, good, {}, otherTrace), 403).message, /wrong-trace/);
  errorOf(await put('node-a', body, undefined), 401);
  errorOf(await put('node-a', body, 'not.a.token.at.all'), 403);
  assert.equal((await fx.traces.get(traceId))?.nodes.length, 0, 'nothing was stored by the refused uploads');
  const ok = await put('node-a', body, issueUploadToken(secret, traceId, 'node-a', soon()), { 'upload-id': 'run-1' });
  assert.equal(ok.statusCode, 201, ok.body);
});

test('a replayed token with another upload is refused 409; the same upload (Upload-Id or digest) is accepted', async () => {
  const secret = fx.config.uploadTokenSecret;
  const token = issueUploadToken(secret, traceId, 'node-c', soon());
  const first = await resultUpload(traceId, 'node-c', 2);
  const sha = createHash('sha256').update(first).digest('hex');
  assert.equal((await put('node-c', first, token, { 'upload-id': 'up-1', 'x-content-sha256': sha })).statusCode, 201);
  const replacement = await resultUpload(traceId, 'node-c', 50);
  const replay = errorOf(await put('node-c', replacement, token), 409);
  assert.equal(replay.error, 'conflict');
  errorOf(await put('node-c', replacement, token, { 'upload-id': 'up-2' }), 409);
  assert.equal((await put('node-c', first, token, { 'upload-id': 'up-1' })).statusCode, 201, 'retry with the same Upload-Id');
  assert.equal((await put('node-c', first, token, { 'x-content-sha256': sha })).statusCode, 201, 'retry with the same content digest');
  // A digest that does not match the bytes is refused, even for the first upload of a node.
  const t2 = issueUploadToken(secret, traceId, 'node-d', soon());
  const wrongDigest = await put('node-d', await resultUpload(traceId, 'node-d', 1), t2, { 'x-content-sha256': sha });
  assert.equal(errorOf(wrongDigest, 400).error, 'invalid');
  const events = (await fx.app.inject({ url: `/v1/traces/${traceId}/events?node=node-c&limit=100`, headers: { authorization: `Bearer ${OPS}` } })).json().items;
  assert.equal(events.length, 2, 'the stored result is still the first upload');
});

test('uploads over MAX_RESULT_BYTES are 413, declared or streamed; malformed archives are 400', async () => {
  const secret = fx.config.uploadTokenSecret;
  const token = issueUploadToken(secret, traceId, 'node-e', soon());
  const noise = Buffer.alloc(64 * 1024);
  for (let i = 0; i < noise.length; i += 1) noise[i] = (i * 2654435761) >>> 24;
  const big = await tarGz({ 'events.ndjson': noise, 'summary.json': nodeSummary(traceId, 'node-e', 1) });
  assert.ok(big.length > 4096);
  assert.equal(errorOf(await put('node-e', big, token), 413).error, 'payload_too_large');
  assert.equal(errorOf(await put('node-e', Buffer.from('not gzip at all'), token), 400).error, 'invalid');
  assert.equal(errorOf(await put('node-e', await tarGz({ '../../etc/passwd': 'x', 'summary.json': '{}' }), token), 400).error, 'invalid');
  const ok = await put('node-e', await resultUpload(traceId, 'node-e', 1), token);
  assert.equal(ok.statusCode, 201, `refused uploads do not count as the node's upload: ${ok.body}`);
  const audit = fx.audit.filter((e) => e.action === 'result.upload');
  assert.ok(audit.some((e) => e.status === 413 && e.who === 'runner:node-e' && e.decision === 'deny'));
  assert.ok(audit.some((e) => e.status === 409 && typeof e.reason === 'string'));
});

test('a node the scheduler gave up when the trace ended cannot upload late: 409 naming the node and why', async () => {
  const res = await fx.app.inject({ method: 'POST', url: '/v1/traces', payload: { gadget: 'exec', durationSeconds: 5, target: { namespace: 'shop' } }, headers: { authorization: `Bearer ${OPS}` } });
  assert.equal(res.statusCode, 202, res.body);
  const id = (res.json() as { id: string }).id;
  const secret = fx.config.uploadTokenSecret;
  assert.equal((await put('node-ok', await resultUpload(id, 'node-ok', 2), issueUploadToken(secret, id, 'node-ok', soon()), {}, id)).statusCode, 201);
  await fx.traces.setNodeState(id, { node: 'node-ok', status: 'succeeded', events: 2, lostEvents: 0 });
  const lost = 'node node-lost became NotReady during the trace (Ready=Unknown); its results are lost';
  await fx.traces.setNodeState(id, { node: 'node-lost', status: 'failed', events: 0, lostEvents: 0, error: lost });
  await fx.traces.finish(id, 'partial', lost);
  const late = await put('node-lost', await resultUpload(id, 'node-lost', 5), issueUploadToken(secret, id, 'node-lost', soon()), {}, id);
  const err = errorOf(late, 409);
  assert.match(err.message, /node node-lost was given up when trace .* ended \(node node-lost became NotReady/);
  const view = (await fx.app.inject({ url: `/v1/traces/${id}`, headers: { authorization: `Bearer ${OPS}` } })).json() as { status: string; counts: { events: number } };
  assert.equal(view.status, 'partial');
  assert.equal(view.counts.events, 2, 'the late events are not added');
});
