/**
 * A real Alertmanager (built from the Go module proxy by build-alertmanager.sh) fires alerts at the
 * real API (secured: Alertmanager's bearer token is an API token with its policy) on a real Redis.
 * Alerts are sent through Alertmanager's own API; group_wait/group_interval/repeat_interval are
 * short, so its first notifications and their repeats arrive within seconds. The audit log's
 * per-alert lines are the readiness signal: each notification Alertmanager delivers leaves one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAuthConfig } from '../../api/src/auth/access-policy.ts';
import { hashApiToken } from '../../api/src/auth/api-token-hash.ts';
import type { TraceRecord } from '../../state/src/trace-store.ts';
import { startSecuredApp, type SecuredApp } from '../security/secured-app.ts';
import { alertmanagerSkipReason, startAlertmanager, type RunningAlertmanager } from './alertmanager.ts';

const skip = alertmanagerSkipReason();
const TOKEN = 'tj_alertmanager-test-token-0123456789';

let dir: string;
let api: SecuredApp;
let am: RunningAlertmanager;
let hookUrl: string;

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'tracejob-alerts-'));
  const rulesFile = join(dir, 'alert-rules.yaml');
  writeFileSync(
    rulesFile,
    [
      'dedupWindowSeconds: 3600',
      'rules:',
      '  - name: latency',
      '    matchers: [\'alertname="HighLatency"\']',
      '    gadget: tcpconnect',
      '    durationSeconds: 20',
      '    limits: { maxEvents: 5000 }',
      '',
    ].join('\n'),
  );
  const auth = parseAuthConfig({ tokens: [{ name: 'alertmanager', sha256: hashApiToken(TOKEN), namespaces: ['shop', 'web'] }] }, 'test');
  api = await startSecuredApp(auth, { ALERT_RULES_FILE: rulesFile });
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  const address = api.app.server.address();
  hookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1/hooks/alertmanager`;
  am = await startAlertmanager({
    receivers: [
      { name: 'tracejob', url: hookUrl, bearerToken: TOKEN },
      { name: 'tracejob-wrong-token', url: hookUrl, bearerToken: 'tj_not-a-token-tracejob-knows', match: { tenant: 'intruder' } },
    ],
  });
});

after(async () => {
  if (skip) return;
  await am?.close();
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

type AuditLine = Record<string, unknown> & { action?: string; status?: number; alert?: { fingerprint: string; outcome: string; alertname?: string }; traceId?: string };

const auditLines = () => api.audit as AuditLine[];

/** Waits for an audit line (each notification Alertmanager delivers writes them); fails with Alertmanager's log. */
async function waitForAudit(what: string, match: (a: AuditLine) => boolean, count = 1): Promise<AuditLine[]> {
  for (let i = 0; i < 600; i += 1) {
    const found = auditLines().filter(match);
    if (found.length >= count) return found;
    await sleep(50);
  }
  assert.fail(`no ${what} in the audit log after 30 s:\n${JSON.stringify(auditLines().slice(-10), null, 1)}\nalertmanager:\n${am.output().slice(-3000)}`);
}

async function alertTraces(): Promise<TraceRecord[]> {
  const page = await api.traces.list({ limit: 100 });
  return page.items.filter((t) => t.spec.trigger?.kind === 'alert');
}

const started = (a: AuditLine) => a.action === 'alert.trigger' && a.alert?.outcome === 'started';

test('two firing alerts → two traces with the targets of their labels, linked to their alerts', { skip }, async () => {
  await am.postAlerts([
    { labels: { alertname: 'HighLatency', namespace: 'shop', pod: 'web-1', severity: 'page' }, annotations: { summary: 'p99 over 1s' } },
    { labels: { alertname: 'HighLatency', namespace: 'web', pod: 'api-2', container: 'app', node: 'node-b' } },
  ]);
  const lines = await waitForAudit('two started traces', started, 2);
  assert.equal(lines.length, 2);
  const traces = await alertTraces();
  assert.equal(traces.length, 2);
  const byPod = new Map(traces.map((t) => [(t.spec.target as { podName?: string }).podName, t]));
  const shop = byPod.get('web-1');
  const web = byPod.get('api-2');
  assert.ok(shop && web, JSON.stringify(traces.map((t) => t.spec.target)));
  assert.deepEqual(shop.spec.target, { namespace: 'shop', podName: 'web-1' });
  assert.deepEqual(web.spec.target, { namespace: 'web', podName: 'api-2', containerName: 'app', nodeName: 'node-b' });
  for (const t of [shop, web]) {
    assert.equal(t.spec.gadget, 'tcpconnect');
    assert.equal(t.spec.durationSeconds, 20);
    assert.equal(t.spec.limits.maxEvents, 5000);
    assert.equal(t.status, 'queued');
    assert.equal(t.spec.trigger?.kind, 'alert');
  }
  const trigger = shop.spec.trigger!;
  assert.ok(trigger.kind === 'alert');
  assert.equal(trigger.rule, 'latency');
  assert.equal(trigger.alertname, 'HighLatency');
  assert.deepEqual(trigger.labels, { alertname: 'HighLatency', namespace: 'shop', pod: 'web-1', severity: 'page' });
  assert.match(trigger.fingerprint, /^[0-9a-f]{16}$/);
  // the audit line names the trace the alert started
  assert.ok(lines.some((l) => l.traceId === shop.id && l.alert?.fingerprint === trigger.fingerprint));
  // and the trace view shows where it came from
  const view = await api.app.inject({ method: 'GET', url: `/v1/traces/${shop.id}`, headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(view.statusCode, 200);
  assert.equal(view.json().trigger.fingerprint, trigger.fingerprint);
});

test("Alertmanager's repeat notification of the same alerts starts no new trace", { skip }, async () => {
  const before = (await alertTraces()).length;
  const fingerprints = new Set(
    auditLines()
      .filter(started)
      .map((a) => a.alert!.fingerprint),
  );
  // repeat_interval is 2 s: wait until each alert was notified again and refused as a duplicate
  for (const fp of fingerprints) {
    const dup = await waitForAudit(`a duplicate of ${fp}`, (a) => a.action === 'alert.trigger' && a.alert?.fingerprint === fp && a.alert.outcome === 'duplicate');
    assert.ok(dup[0]!.traceId, 'the duplicate names the trace the alert already started');
  }
  assert.equal((await alertTraces()).length, before);
});

test('a resolved alert starts nothing', { skip }, async () => {
  const before = (await alertTraces()).length;
  const now = new Date();
  await am.postAlerts([{ labels: { alertname: 'HighLatency', namespace: 'shop', pod: 'web-1', severity: 'page' }, startsAt: new Date(now.getTime() - 60_000).toISOString(), endsAt: now.toISOString() }]);
  const resolved = await waitForAudit('a resolved alert', (a) => a.action === 'alert.trigger' && a.alert?.outcome === 'resolved');
  assert.equal(resolved[0]!.traceId, undefined);
  assert.equal((await alertTraces()).length, before);
});

test('a notification with a wrong bearer token is answered 401 and starts nothing', { skip }, async () => {
  const before = (await alertTraces()).length;
  await am.postAlerts([{ labels: { alertname: 'HighLatency', namespace: 'shop', pod: 'web-9', tenant: 'intruder' } }]);
  const refused = await waitForAudit('a 401 on the webhook', (a) => a.action === 'alert.notify' && a.status === 401);
  assert.equal(refused[0]!.decision, 'deny');
  assert.equal((await alertTraces()).length, before);
  assert.ok(!auditLines().some((a) => a.action === 'alert.trigger' && a.status === 401), 'no alert of the refused notification was looked at');
});
