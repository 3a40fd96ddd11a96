/**
 * Hostile-input suite: generated requests for every route (see hostile-requests.ts), most through
 * app.inject, a share over a real socket, against the real app with auth, limits and audit on a
 * real Redis, on both backends (kubernetes shapes; local shapes with the local target check).
 * Asserts: no 5xx, no crash (no uncaught exception or unhandled rejection), no hang (per-request
 * timeout), every 4xx is JSON with `error` and `message`; afterwards a valid trace still works end
 * to end (create, read, upload, events, bundle). Prints the request count and the seed:
 * FC_SEED=<seed> reproduces a run, HOSTILE_RUNS=<n> changes its size (default 10,000 + 800).
 */
import assert from 'node:assert/strict';
import { request as httpRequest, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { parseAuthConfig } from '../../api/src/auth/access-policy.ts';
import { hashApiToken } from '../../api/src/auth/api-token-hash.ts';
import { issueUploadToken } from '../../state/src/upload-token.ts';
import { hostileProfileUpload, resultUpload } from '../security/result-archive.ts';
import { startSecuredApp, type SecuredApp } from '../security/secured-app.ts';
import { startTestRedis, type TestRedis } from '../support/redis.ts';
import { hostileRequests, type HostileContext, type HostileRequest } from './hostile-requests.ts';

const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const injectRuns = Number(process.env.HOSTILE_RUNS ?? 10_000);
const socketRuns = Math.max(50, Math.round(injectRuns * 0.08));
const TIMEOUT_MS = 10_000;
const FUZZ = 'tok-hostile-fuzzer';
const CHECK = 'tok-hostile-checker';
const auth = parseAuthConfig(
  {
    tokens: [
      { name: 'fuzzer', sha256: hashApiToken(FUZZ), namespaces: ['*'], local: true },
      { name: 'checker', sha256: hashApiToken(CHECK), namespaces: ['*'], local: true },
    ],
    limits: { jsonBodyLimitBytes: 256 * 1024 },
  },
  'hostile',
);

let redis: TestRedis;
let rulesDir: string | undefined;
let k8s: SecuredApp;
let local: SecuredApp;
const problems: string[] = [];
const onUncaught = (err: unknown) => problems.push(`uncaught: ${(err as Error)?.stack ?? String(err)}`);
const onRejection = (err: unknown) => problems.push(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`);

before(async () => {
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onRejection);
  redis = await startTestRedis({ appendfsync: 'everysec' });
  rulesDir = mkdtempSync(join(tmpdir(), 'tracejob-hostile-rules-'));
  const rules = join(rulesDir, 'alert-rules.yaml');
  writeFileSync(rules, `rules:\n  - name: any-high\n    matchers: ['alertname=~"High.*"']\n    gadget: exec\n    rateLimit: { traces: 50, windowSeconds: 600 }\n`);
  const env = { MAX_RESULT_BYTES: String(64 * 1024), MAX_DURATION_SECONDS: '600', ALERT_RULES_FILE: rules };
  k8s = await startSecuredApp(auth, env, { redis });
  local = await startSecuredApp(auth, { ...env, BACKEND: 'local' }, { redis });
  console.log(`hostile-input: fast-check seed ${seed} (FC_SEED=${seed} reproduces), ${injectRuns} injected + ${socketRuns} socket requests planned`);
});
after(async () => {
  await local?.close();
  await k8s?.close();
  await redis?.close();
  if (rulesDir) rmSync(rulesDir, { recursive: true, force: true });
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onRejection);
});

async function context(app: SecuredApp): Promise<HostileContext> {
  const ids: string[] = [];
  for (let i = 0; i < 4; i += 1) {
    const target = app === local ? { pids: [process.pid] } : { namespace: 'shop' };
    const res = await app.app.inject({ method: 'POST', url: '/v1/traces', payload: { gadget: 'exec', durationSeconds: 5, target }, headers: { authorization: `Bearer ${CHECK}` } });
    assert.equal(res.statusCode, 202, res.body);
    ids.push(res.json().id);
  }
  // Two of them end (cancelled): watching them closes the stream.
  for (const id of ids.slice(2)) await app.app.inject({ method: 'DELETE', url: `/v1/traces/${id}`, headers: { authorization: `Bearer ${CHECK}` } });
  // A profile trace with a result whose events are hostile too, for GET /profile and the bundle.
  const profileTarget = app === local ? { pids: [process.pid] } : { namespace: 'shop' };
  const profile = await app.app.inject({ method: 'POST', url: '/v1/traces', payload: { gadget: 'profile', durationSeconds: 5, target: profileTarget }, headers: { authorization: `Bearer ${CHECK}` } });
  assert.equal(profile.statusCode, 202, profile.body);
  const profileId = profile.json().id as string;
  const up = await app.app.inject({
    method: 'PUT',
    url: `/v1/traces/${profileId}/nodes/worker-1/result`,
    payload: await hostileProfileUpload(profileId, 'worker-1'),
    headers: { 'content-type': 'application/gzip', authorization: `Bearer ${issueUploadToken(app.config.uploadTokenSecret, profileId, 'worker-1', new Date(Date.now() + 60_000))}` },
  });
  assert.equal(up.statusCode, 201, up.body);
  ids.push(profileId);
  const traceId = ids[0]!;
  const node = 'worker-1';
  const scheduleIds: string[] = [];
  for (const every of ['1h', '2h']) {
    const target = app === local ? { pids: [process.pid] } : { namespace: 'shop' };
    const res = await app.app.inject({ method: 'POST', url: '/v1/schedules', payload: { trace: { gadget: 'exec', durationSeconds: 5, target }, every }, headers: { authorization: `Bearer ${CHECK}` } });
    assert.equal(res.statusCode, 201, res.body);
    scheduleIds.push(res.json().id);
  }
  return {
    traceIds: ids,
    endedTraceIds: ids.slice(2, 4),
    goodToken: FUZZ,
    uploadToken: { traceId, node, token: issueUploadToken(app.config.uploadTokenSecret, traceId, node, new Date(Date.now() + 3600_000)) },
    validArchive: await resultUpload(traceId, node, 3),
    validTarget: app === local ? { pids: [process.pid] } : { namespace: 'shop' },
    scheduleIds,
  };
}

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

function describe(req: HostileRequest): string {
  const body = req.body === undefined ? '' : ` body(${req.body.length}): ${String(req.body).slice(0, 200)}`;
  return `${req.kind} ${req.method} ${req.url.slice(0, 300)} ${JSON.stringify(req.headers).slice(0, 300)}${body}`;
}

function check(req: HostileRequest, a: Answer): void {
  if (a.status >= 500) throw new Error(`5xx (${a.status}) for ${describe(req)}: ${a.body.slice(0, 500)}`);
  if (a.status >= 400) {
    let parsed: { error?: unknown; message?: unknown };
    try {
      parsed = JSON.parse(a.body) as typeof parsed;
    } catch {
      throw new Error(`4xx (${a.status}) without a JSON body for ${describe(req)}: ${a.body.slice(0, 300)}`);
    }
    if (typeof parsed.error !== 'string' || typeof parsed.message !== 'string' || parsed.message.trim() === '') {
      throw new Error(`4xx (${a.status}) without error/message for ${describe(req)}: ${a.body.slice(0, 300)}`);
    }
  }
}

function withTimeout<T>(p: Promise<T>, req: HostileRequest): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${TIMEOUT_MS} ms (hang) for ${describe(req)}`)), TIMEOUT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function viaInject(app: SecuredApp, req: HostileRequest): Promise<Answer> {
  const res = await app.app.inject({ method: req.method, url: req.url, headers: req.headers, ...(req.body !== undefined ? { payload: req.body } : {}) });
  return { status: res.statusCode, contentType: String(res.headers['content-type'] ?? ''), body: res.body };
}

function viaSocket(port: number, agent: Agent, req: HostileRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    r.on('error', (err: NodeJS.ErrnoException) => {
      // The server may close the connection on an oversized body after answering 413.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') resolve({ status: 499, contentType: 'application/json', body: '{"error":"reset","message":"connection reset after the answer"}' });
      else reject(err);
    });
    r.end(req.body);
  });
}

/** Header values Node's HTTP client would refuse to send are not requests the server can see. */
function sendable(req: HostileRequest): boolean {
  return Object.values(req.headers).every((v) => /^[\t\x20-\x7e]*$/.test(v)) && /^[\x21-\x7e]+$/.test(req.url);
}

async function assertStillServes(app: SecuredApp): Promise<void> {
  const h = { authorization: `Bearer ${CHECK}` };
  const target = app === local ? { pids: [process.pid] } : { namespace: 'shop', labelSelector: 'app=web' };
  const created = await app.app.inject({ method: 'POST', url: '/v1/traces', payload: { gadget: 'exec', durationSeconds: 5, target }, headers: h });
  assert.equal(created.statusCode, 202, created.body);
  const id = created.json().id as string;
  assert.equal((await app.app.inject({ url: `/v1/traces/${id}`, headers: h })).statusCode, 200);
  const node = 'after-fuzz';
  const up = await app.app.inject({
    method: 'PUT',
    url: `/v1/traces/${id}/nodes/${node}/result`,
    payload: await resultUpload(id, node, 4),
    headers: { 'content-type': 'application/gzip', authorization: `Bearer ${issueUploadToken(app.config.uploadTokenSecret, id, node, new Date(Date.now() + 60_000))}` },
  });
  assert.equal(up.statusCode, 201, up.body);
  const events = await app.app.inject({ url: `/v1/traces/${id}/events?limit=100`, headers: h });
  assert.equal(events.statusCode, 200, events.body);
  assert.equal(events.json().items.length, 4);
  const bundle = await app.app.inject({ url: `/v1/traces/${id}/bundle`, headers: h });
  assert.equal(bundle.statusCode, 200);
  assert.equal(bundle.rawPayload[0], 0x1f, 'the bundle is gzip');
  assert.equal((await app.app.inject('/readyz')).statusCode, 200);
}

test('hostile requests: no 5xx, no crash, no hang, every 4xx has error and message; the server still serves a trace', async () => {
  const apps = [k8s, local];
  const arbs = await Promise.all(apps.map(async (a) => hostileRequests(await context(a))));
  const statuses = new Map<number, number>();
  let injected = 0;
  let overSocket = 0;
  const started = Date.now();
  const count = (s: number) => statuses.set(s, (statuses.get(s) ?? 0) + 1);

  // Two properties (one per backend) sharing the seed; together injectRuns requests.
  for (const [i, app] of apps.entries()) {
    await fc.assert(
      fc.asyncProperty(arbs[i]!, async (req) => {
        if (process.env.HOSTILE_LOG) console.log(`#${injected} ${describe(req).slice(0, 300)}`);
        const a = await withTimeout(viaInject(app, req), req);
        injected += 1;
        count(a.status);
        check(req, a);
      }),
      { numRuns: Math.ceil(injectRuns / apps.length), seed: seed + i, endOnFailure: true },
    );
  }

  // A share over a real socket (keep-alive), to exercise the HTTP parser and streaming paths.
  await k8s.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (k8s.app.server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  try {
    await fc.assert(
      fc.asyncProperty(arbs[0]!.filter(sendable), async (req) => {
        if (process.env.HOSTILE_LOG) console.log(`socket#${overSocket} ${describe(req).slice(0, 300)}`);
        const a = await withTimeout(viaSocket(port, agent, req), req);
        overSocket += 1;
        count(a.status);
        check(req, a);
      }),
      { numRuns: socketRuns, seed: seed + 7, endOnFailure: true },
    );
  } finally {
    agent.destroy();
  }

  const seconds = (Date.now() - started) / 1000;
  const summary = [...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(' ');
  console.log(`hostile-input: ${injected + overSocket} requests (${injected} injected, ${overSocket} over a socket) in ${seconds.toFixed(1)} s, seed ${seed}; statuses ${summary}`);
  assert.ok(injected + overSocket >= 10_000 || process.env.HOSTILE_RUNS !== undefined, 'at least 10,000 requests per run');
  assert.deepEqual(problems, [], 'no uncaught exception or unhandled rejection');
  for (const app of apps) await assertStillServes(app);
});
