/**
 * Authentication, authorization, limits and audit on the real app and a real Redis: each rule of
 * issue 6, including cross-namespace reads of traces, events, bundles and watches (404), and the
 * list filter.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Readable } from 'node:stream';
import { parseAuthConfig } from '../../api/src/auth/access-policy.ts';
import { hashApiToken } from '../../api/src/auth/api-token-hash.ts';
import { startSecuredApp, type SecuredApp } from './secured-app.ts';

const T = { shop: 'tok-shop-0123456789', payments: 'tok-payments-0123456789', ops: 'tok-ops-0123456789', limited: 'tok-limited-0123456789', dev: 'tok-dev-0123456789' };

const auth = parseAuthConfig(
  {
    tokens: [
      { name: 'shop', sha256: hashApiToken(T.shop), namespaces: ['shop'], gadgets: ['exec', 'open'], maxDurationSeconds: 60, maxConcurrentTraces: 2 },
      { name: 'payments', sha256: hashApiToken(T.payments), namespaces: ['payments'] },
      { name: 'ops', sha256: hashApiToken(T.ops), namespaces: ['*'], maxConcurrentTraces: 100 },
      { name: 'limited', sha256: hashApiToken(T.limited), namespaces: ['*'], rateLimit: { requests: 3, windowSeconds: 60 } },
      { name: 'dev', sha256: hashApiToken(T.dev), local: true },
    ],
    limits: { maxConcurrentTraces: 6, jsonBodyLimitBytes: 16 * 1024 },
  },
  'test',
);

let fx: SecuredApp;
before(async () => {
  fx = await startSecuredApp(auth, { MAX_DURATION_SECONDS: '600', DEFAULT_DURATION_SECONDS: '30' });
});
after(async () => {
  await fx?.close();
});

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

async function post(token: string | undefined, body: unknown, headers: Record<string, string> = {}) {
  return fx.app.inject({ method: 'POST', url: '/v1/traces', payload: JSON.stringify(body), headers: { 'content-type': 'application/json', ...(token ? bearer(token) : {}), ...headers } });
}

function assertError(res: { statusCode: number; body: string }, status: number, error?: string) {
  assert.equal(res.statusCode, status, res.body);
  const json = JSON.parse(res.body) as { error?: unknown; message?: unknown; field?: unknown };
  assert.equal(typeof json.error, 'string');
  assert.match(String(json.message), /\S/);
  if (error) assert.equal(json.error, error);
  return json;
}

const shopTrace = (extra: object = {}) => ({ gadget: 'exec', durationSeconds: 30, target: { namespace: 'shop', labelSelector: 'app=web' }, ...extra });

describe('authentication', () => {
  test('no token, an unknown token, or a malformed header get 401 with a message', async () => {
    for (const headers of [{}, bearer('not-a-token'), { authorization: 'Basic dXNlcjpwdw==' }, { authorization: 'Bearer' }, { authorization: `Bearer ${'x'.repeat(9000)}` }]) {
      const res = await fx.app.inject({ method: 'GET', url: '/v1/traces', headers });
      assertError(res, 401, 'unauthorized');
    }
    assertError(await post(undefined, shopTrace()), 401);
  });

  test('health and docs stay open; /v1 needs a token', async () => {
    assert.equal((await fx.app.inject('/healthz')).statusCode, 200);
    assert.equal((await fx.app.inject('/v1/gadgets')).statusCode, 401);
    assert.equal((await fx.app.inject({ url: '/v1/gadgets', headers: bearer(T.shop) })).statusCode, 200);
  });
});

describe('authorization', () => {
  let shopId: string;
  let paymentsId: string;
  before(async () => {
    const a = await post(T.shop, shopTrace());
    assert.equal(a.statusCode, 202, a.body);
    shopId = a.json().id;
    const b = await post(T.payments, { gadget: 'tcpconnect', durationSeconds: 10, target: { namespace: 'payments' } });
    assert.equal(b.statusCode, 202, b.body);
    paymentsId = b.json().id;
  });

  test('creation outside the token namespaces, gadgets or duration is 403 naming the field', async () => {
    assert.equal(assertError(await post(T.shop, shopTrace({ target: { namespace: 'payments' } })), 403, 'forbidden').field, 'target.namespace');
    assert.equal(assertError(await post(T.shop, shopTrace({ gadget: 'tcpconnect' })), 403).field, 'gadget');
    assert.equal(assertError(await post(T.shop, shopTrace({ durationSeconds: 61 })), 403).field, 'durationSeconds');
  });

  test("a trace in another namespace is 404 on every route, exactly like a trace that does not exist", async () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    for (const suffix of ['', '/events', '/events?limit=10', '/events?pod=web&limit=5', '/top?field=comm', '/bundle', '/nodes/node-a/events', '/watch', '/profile', '/profile?format=json']) {
      const hidden = await fx.app.inject({ url: `/v1/traces/${shopId}${suffix}`, headers: bearer(T.payments) });
      const absent = await fx.app.inject({ url: `/v1/traces/${missing}${suffix}`, headers: bearer(T.payments) });
      assertError(hidden, 404, 'not_found');
      assert.equal(hidden.body.replace(shopId, 'ID'), absent.body.replace(missing, 'ID'), `${suffix}: the refusal must not reveal existence`);
    }
    const own = await fx.app.inject({ url: `/v1/traces/${shopId}`, headers: bearer(T.shop) });
    assert.equal(own.statusCode, 200, own.body);
    assert.equal((await fx.app.inject({ url: `/v1/traces/${paymentsId}`, headers: bearer(T.ops) })).statusCode, 200);
  });

  test('cancel of a trace in another namespace is 404 and leaves it queued', async () => {
    assertError(await fx.app.inject({ method: 'DELETE', url: `/v1/traces/${shopId}`, headers: bearer(T.payments) }), 404);
    assert.equal(await fx.traces.status(shopId), 'queued');
  });

  test('the list shows only traces of the namespaces the token may see', async () => {
    const ids = async (token: string) => ((await fx.app.inject({ url: '/v1/traces?limit=500', headers: bearer(token) })).json().items as { id: string }[]).map((t) => t.id);
    const shop = await ids(T.shop);
    const payments = await ids(T.payments);
    assert.ok(shop.includes(shopId) && !shop.includes(paymentsId));
    assert.ok(payments.includes(paymentsId) && !payments.includes(shopId));
    const ops = await ids(T.ops);
    assert.ok(ops.includes(shopId) && ops.includes(paymentsId));
    assert.deepEqual(await ids(T.dev), [], 'a local-only token sees no namespaced trace');
  });

  test("Idempotency-Key is per caller: another token's key neither replays nor conflicts", async () => {
    const key = { 'idempotency-key': 'same-key-1' };
    const a = await post(T.ops, { gadget: 'exec', durationSeconds: 5, target: { namespace: 'payments' } }, key);
    const b = await post(T.payments, { gadget: 'exec', durationSeconds: 5, target: { namespace: 'payments' } }, key);
    assert.equal(a.statusCode, 202);
    assert.equal(b.statusCode, 202);
    assert.notEqual(a.json().id, b.json().id);
    const again = await post(T.ops, { gadget: 'exec', durationSeconds: 5, target: { namespace: 'payments' } }, key);
    assert.equal(again.json().id, a.json().id, 'the same caller still replays');
  });
});

describe('limits', () => {
  test('concurrent traces per token: the third is 429 with Retry-After; ending one frees a slot', async () => {
    // shop already has one queued trace from the authorization tests.
    const second = await post(T.shop, shopTrace());
    assert.equal(second.statusCode, 202, second.body);
    const third = await post(T.shop, shopTrace());
    assertError(third, 429, 'rate_limited');
    assert.match(String(third.headers['retry-after']), /^\d+$/);
    assert.match(third.json().message, /shop already has 2 traces/);
    const del = await fx.app.inject({ method: 'DELETE', url: `/v1/traces/${second.json().id}`, headers: bearer(T.shop) });
    assert.equal(del.statusCode, 202, del.body);
    assert.equal((await post(T.shop, shopTrace())).statusCode, 202, 'the cancelled trace released its slot');
  });

  test('a token without a concurrency limit is not tracked: no per-token set that grows with every trace', async () => {
    const res = await post(T.payments, { gadget: 'exec', durationSeconds: 5, target: { namespace: 'payments' } });
    assert.equal(res.statusCode, 202, res.body);
    assert.equal(await fx.client.exists('tj:active:token:payments'), 0);
    assert.notEqual(await fx.client.zscore('tj:active:all', res.json().id), null, 'the server-wide limit still counts it');
  });

  test('concurrent traces in total: refused once the server-wide limit is reached', async () => {
    let refused: { statusCode: number; body: string } | undefined;
    for (let i = 0; i < 10 && !refused; i += 1) {
      const res = await post(T.ops, { gadget: 'exec', durationSeconds: 5, target: { namespace: `ns-${i}` } });
      if (res.statusCode !== 202) refused = res;
    }
    assert.ok(refused, 'the total limit of 6 must refuse one of 10');
    assert.match(assertError(refused, 429).message as string, /the server already has 6 traces/);
  });

  test('rate limit per token: 429 with Retry-After, other tokens unaffected', async () => {
    const codes: number[] = [];
    let last;
    for (let i = 0; i < 5; i += 1) {
      last = await fx.app.inject({ url: '/v1/gadgets', headers: bearer(T.limited) });
      codes.push(last.statusCode);
    }
    assert.deepEqual(codes, [200, 200, 200, 429, 429]);
    assertError(last!, 429, 'rate_limited');
    const retry = Number(last!.headers['retry-after']);
    assert.ok(Number.isInteger(retry) && retry >= 1 && retry <= 120, `Retry-After ${retry} (at most two windows)`);
    assert.equal((await fx.app.inject({ url: '/v1/gadgets', headers: bearer(T.ops) })).statusCode, 200);
  });

  test('oversized JSON bodies are 413, with or without Content-Length', async () => {
    const big = JSON.stringify(shopTrace({ params: { pad: 'x'.repeat(20 * 1024) } }));
    assertError(await fx.app.inject({ method: 'POST', url: '/v1/traces', payload: big, headers: { 'content-type': 'application/json', ...bearer(T.shop) } }), 413, 'payload_too_large');
    const chunked = await fx.app.inject({
      method: 'POST',
      url: '/v1/traces',
      payload: Readable.from([Buffer.from(big.slice(0, 10_000)), Buffer.from(big.slice(10_000))]),
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', ...bearer(T.shop) },
    });
    assertError(chunked, 413, 'payload_too_large');
  });
});

describe('local targets and audit', () => {
  test('audit lines: who, action, trace, target, decision and reason', async () => {
    const entries = fx.audit;
    const created = entries.find((e) => e.action === 'trace.create' && e.decision === 'allow' && e.who === 'payments');
    assert.ok(created, 'an allowed creation is audited');
    assert.match(String(created.traceId), /^[0-9a-f-]{36}$/);
    assert.deepEqual(created.target, { namespace: 'payments' });
    const denied = entries.find((e) => e.action === 'trace.create' && e.decision === 'deny' && e.status === 403);
    assert.ok(denied && typeof denied.reason === 'string' && denied.who === 'shop');
    const hidden = entries.find((e) => e.action === 'result.download' && e.who === 'payments' && e.status === 404);
    assert.ok(hidden, 'a cross-namespace bundle download is audited as refused');
    assert.match(String(hidden.reason), /outside payments's namespaces/);
    assert.ok(entries.some((e) => e.action === 'trace.cancel' && e.decision === 'allow'));
    assert.ok(entries.some((e) => e.status === 401 && String(e.who).startsWith('unauthenticated@')));
    assert.ok(entries.some((e) => e.status === 429 && e.who === 'limited'));
    for (const e of entries) assert.equal(e.audit, true);
  });
});
