import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { loadCallbackConfig } from './callback-config.ts';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signCallback, verifyCallbackSignature } from './callback-signature.ts';
import completionCallbacks, { CALLBACK_PENDING_KEY } from './callbacks-plugin.ts';
import { buildUnreadyApp, type UnreadyApp } from '../../../test/support/app-fixture.ts';
import { startTestReceiver } from './test-receiver.ts';

const SECRET = 'x'.repeat(40);
let fx: UnreadyApp;

before(async () => {
  fx = await buildUnreadyApp();
  const config = loadCallbackConfig({ CALLBACK_ALLOWED_HOSTS: '127.0.0.1,hooks.example.com', CALLBACK_ALLOW_HTTP: 'true', CALLBACK_SIGNING_SECRET: SECRET, CALLBACK_RETRY_BASE_MS: '50', CALLBACK_MAX_ATTEMPTS: '3' });
  await fx.app.register(completionCallbacks, { config, redis: fx.client, traces: fx.traces, results: fx.results, pollMs: 50, publicUrl: 'https://tracejob.example' });
  await fx.app.ready();
});

after(async () => {
  await fx.close();
});

function request(callbackUrl: string) {
  return fx.app.inject({ method: 'POST', url: '/v1/traces', payload: { gadget: 'exec', durationSeconds: 1, target: { cgroupPaths: ['/tj-test'] }, callbackUrl } });
}

async function endTrace(id: string, status: 'succeeded' | 'failed') {
  await fx.traces.markRunning(id);
  await fx.traces.setNodeStatus(id, 'test-node', status === 'succeeded' ? 'succeeded' : 'failed', { events: 3, lostEvents: 0 });
  await fx.traces.finish(id, status);
}

test('a trace with callbackUrl gets a signed POST when it ends, retried after a 500', async () => {
  const receiver = await startTestReceiver([500, 200]);
  try {
    const res = await request(`${receiver.url}/hook?x=1`);
    assert.equal(res.statusCode, 202, res.body);
    const id = (res.json() as { id: string }).id;
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(receiver.requests.length, 0, 'nothing is sent while the trace runs');
    await endTrace(id, 'succeeded');
    const [first, second] = await receiver.waitFor(2);
    assert.equal(first!.path, '/hook?x=1');
    assert.equal(second!.headers['x-tracejob-delivery-attempt'], '2');
    const ts = second!.headers[TIMESTAMP_HEADER] as string;
    const sig = second!.headers[SIGNATURE_HEADER] as string;
    assert.ok(verifyCallbackSignature(SECRET, ts, second!.body, sig), 'signature verifies with the shared secret');
    assert.ok(!verifyCallbackSignature('y'.repeat(40), ts, second!.body, sig), 'and not with another secret');
    assert.ok(!verifyCallbackSignature(SECRET, ts, second!.body + ' ', sig), 'nor over another body');
    const body = JSON.parse(second!.body) as { id: string; status: string; nodes: { node: string; events: number }[]; summary: { events: number }; links: { bundle: string } };
    assert.equal(body.id, id);
    assert.equal(body.status, 'succeeded');
    assert.deepEqual(body.nodes.map((n) => [n.node, n.events]), [['test-node', 3]]);
    assert.equal(typeof body.summary.events, 'number');
    assert.equal(body.links.bundle, `https://tracejob.example/v1/traces/${id}/bundle`);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(receiver.requests.length, 2, 'no more deliveries after a 2xx');
    for (let i = 0; i < 50 && (await fx.client.zcard(CALLBACK_PENDING_KEY)) > 0; i += 1) await new Promise((r) => setTimeout(r, 20));
    assert.equal(await fx.client.zcard(CALLBACK_PENDING_KEY), 0);
  } finally {
    await receiver.close();
  }
});

test('a 4xx answer is not retried and the failure is kept', async () => {
  const receiver = await startTestReceiver([404]);
  try {
    const id = (request(`${receiver.url}/gone`).then((r) => r.json() as { id: string }));
    await endTrace((await id).id, 'failed');
    await receiver.waitFor(1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(receiver.requests.length, 1);
    const failed = JSON.parse((await fx.client.lindex(`${CALLBACK_PENDING_KEY}:failed`, 0))!) as { traceId: string; error: string };
    assert.equal(failed.traceId, (await id).id);
    assert.equal(failed.error, 'HTTP 404');
  } finally {
    await receiver.close();
  }
});

test('callbackUrl to a host that is not allowed is refused before the trace is created', async () => {
  for (const url of ['https://evil.example.org/x', 'http://169.254.169.254/latest', 'ftp://hooks.example.com/']) {
    const res = await request(url);
    assert.equal(res.statusCode, 400, url);
    const body = res.json() as { error: string; field: string; message: string };
    assert.equal(body.field, 'callbackUrl', url);
  }
  const ok = await request('https://hooks.example.com/tracejob');
  assert.equal(ok.statusCode, 202);
});

test('signature format', () => {
  assert.match(signCallback(SECRET, '1700000000', '{}'), /^sha256=[0-9a-f]{64}$/);
  assert.ok(!verifyCallbackSignature(SECRET, '1700000000', '{}', signCallback(SECRET, '1700000000', '{}')), 'stale timestamp refused');
  assert.ok(verifyCallbackSignature(SECRET, '1700000000', '{}', signCallback(SECRET, '1700000000', '{}'), 1700000100));
});

test('configuration errors name the variable', () => {
  assert.throws(() => loadCallbackConfig({ CALLBACK_SIGNING_SECRET: 'short' }), /CALLBACK_SIGNING_SECRET/);
  assert.throws(() => loadCallbackConfig({ CALLBACK_ALLOW_HTTP: 'yes' }), /CALLBACK_ALLOW_HTTP/);
  assert.throws(() => loadCallbackConfig({ CALLBACK_ALLOWED_HOSTS: 'a b' }), /CALLBACK_ALLOWED_HOSTS/);
  assert.throws(() => loadCallbackConfig({ CALLBACK_MAX_ATTEMPTS: '0' }), /CALLBACK_MAX_ATTEMPTS/);
});
