import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseAuthConfig } from '../auth/access-policy.ts';
import { hashApiToken } from '../auth/api-token-hash.ts';
import { startSecuredApp, type SecuredApp } from '../../../test/security/secured-app.ts';

const TOKEN = 'tj_hook-test-token';
const BUSY = 'tj_hook-test-busy-token';
let dir: string;
let api: SecuredApp;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tj-hook-'));
  const rules = join(dir, 'rules.yaml');
  writeFileSync(
    rules,
    [
      'rateLimit: { traces: 6, windowSeconds: 600 }',
      'rules:',
      '  - name: once',
      '    matchers: [\'alertname="Burst"\']',
      '    gadget: exec',
      '    rateLimit: { traces: 1, windowSeconds: 600 }',
      '  - name: open-files',
      '    matchers: [\'alertname=~"High.*"\']',
      '    gadget: open',
      '    durationSeconds: 15',
      '    params: { pathPrefix: /etc }',
      '',
    ].join('\n'),
  );
  const auth = parseAuthConfig(
    {
      tokens: [
        { name: 'alertmanager', sha256: hashApiToken(TOKEN), namespaces: ['shop'], gadgets: ['exec', 'open'] },
        { name: 'busy', sha256: hashApiToken(BUSY), namespaces: ['web'], maxConcurrentTraces: 1 },
      ],
    },
    'test',
  );
  api = await startSecuredApp(auth, { ALERT_RULES_FILE: rules });
});

after(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
function alert(labels: Record<string, string>, status: 'firing' | 'resolved' = 'firing', fingerprint?: string) {
  seq += 1;
  return { status, labels, annotations: {}, startsAt: '2026-12-01T16:00:00Z', endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://prometheus/graph', fingerprint: fingerprint ?? seq.toString(16).padStart(16, '0') };
}

async function notify(alerts: unknown[], token = TOKEN, extra: Record<string, unknown> = {}) {
  const payload = { version: '4', groupKey: '{}:{}', truncatedAlerts: 0, status: 'firing', receiver: 'tracejob', groupLabels: {}, commonLabels: {}, commonAnnotations: {}, externalURL: 'http://am', alerts, ...extra };
  return api.app.inject({ method: 'POST', url: '/v1/hooks/alertmanager', headers: { authorization: `Bearer ${token}` }, payload });
}

test("the token's maxConcurrentTraces counts alert traces; a refused alert is not marked as seen", async () => {
  const res = await notify([alert({ alertname: 'HighLoad', namespace: 'web', pod: 'a' }), alert({ alertname: 'HighLoad', namespace: 'web', pod: 'b' }, 'firing', 'bbbbbbbbbbbbbbbb')], BUSY);
  const d = res.json().decisions as { decision: string; reason?: string; traceId?: string }[];
  assert.deepEqual(d.map((x) => x.decision), ['started', 'rate-limited']);
  assert.match(d[1]!.reason!, /busy already has 1 traces queued or running \(limit 1\)/);
  // the first trace ends: its slot is free, and the refused alert may start one when notified again
  await api.traces.finish(d[0]!.traceId!, 'succeeded');
  const again = await notify([alert({ alertname: 'HighLoad', namespace: 'web', pod: 'b' }, 'firing', 'bbbbbbbbbbbbbbbb')], BUSY);
  assert.equal(again.json().decisions[0].decision, 'started', again.body);
});

test('each alert gets a decision: started, duplicate, resolved, no-rule, no-target, forbidden', async () => {
  const fp = 'aaaaaaaaaaaaaaaa';
  const res = await notify([
    alert({ alertname: 'HighLatency', namespace: 'shop', pod: 'web-1' }, 'firing', fp),
    alert({ alertname: 'HighLatency', namespace: 'shop', pod: 'web-1' }, 'firing', fp),
    alert({ alertname: 'HighLatency', namespace: 'shop', pod: 'web-2' }, 'resolved'),
    alert({ alertname: 'DiskFull', namespace: 'shop' }),
    alert({ alertname: 'HighErrors', pod: 'web-3' }),
    alert({ alertname: 'HighErrors', namespace: 'shop', pod: 'Not_A_Pod!' }),
    alert({ alertname: 'HighErrors', namespace: 'kube-system', pod: 'coredns-1' }),
  ]);
  assert.equal(res.statusCode, 200, res.body);
  const d = res.json().decisions as { decision: string; traceId?: string; rule?: string; reason?: string }[];
  assert.deepEqual(
    d.map((x) => x.decision),
    ['started', 'duplicate', 'resolved', 'no-rule', 'no-target', 'no-target', 'forbidden'],
  );
  assert.equal(d[1]!.traceId, d[0]!.traceId, 'the duplicate names the trace the alert started');
  assert.match(d[4]!.reason!, /no namespace label/);
  assert.match(d[5]!.reason!, /label pod="Not_A_Pod!" is not a pod name/);
  assert.match(d[6]!.reason!, /may not trace namespace "kube-system"/);
  const t = await api.traces.get(d[0]!.traceId!);
  assert.ok(t);
  assert.equal(t.spec.gadget, 'open');
  assert.equal(t.spec.durationSeconds, 15);
  assert.deepEqual(t.spec.params, { pathPrefix: '/etc', failedOnly: false }, 'the gadget defaults applied');
  assert.deepEqual(t.spec.target, { namespace: 'shop', podName: 'web-1' });
  assert.deepEqual(t.spec.trigger, {
    kind: 'alert',
    rule: 'open-files',
    fingerprint: fp,
    alertname: 'HighLatency',
    labels: { alertname: 'HighLatency', namespace: 'shop', pod: 'web-1' },
    startsAt: '2026-12-01T16:00:00Z',
    generatorURL: 'http://prometheus/graph',
  });
  // audited: the notification, and one line per alert with its outcome
  const lines = api.audit.filter((a) => a.action === 'alert.trigger');
  assert.deepEqual(
    lines.slice(-7).map((a) => (a.alert as { outcome: string }).outcome),
    ['started', 'duplicate', 'resolved', 'no-rule', 'no-target', 'no-target', 'forbidden'],
  );
  assert.ok(api.audit.some((a) => a.action === 'alert.notify' && a.status === 200 && a.who === 'alertmanager'));
});

test('per-rule and global rate limits', async () => {
  const res = await notify([
    alert({ alertname: 'Burst', namespace: 'shop', pod: 'a' }),
    alert({ alertname: 'Burst', namespace: 'shop', pod: 'b' }),
    alert({ alertname: 'HighCPU', namespace: 'shop', pod: 'c' }),
    alert({ alertname: 'HighCPU', namespace: 'shop', pod: 'd' }),
    alert({ alertname: 'HighCPU', namespace: 'shop', pod: 'e' }),
  ]);
  const d = res.json().decisions as { decision: string; reason?: string }[];
  // 'once' allows 1; all rules together 6 per window, three of which the tests above used
  assert.deepEqual(
    d.map((x) => x.decision),
    ['started', 'rate-limited', 'started', 'started', 'rate-limited'],
  );
  assert.match(d[1]!.reason!, /rule once started 1 traces in 600s/);
  assert.match(d[4]!.reason!, /alerts started 6 traces in 600s/);
});

test('a wrong token is 401, a wrong payload version 400 naming the field; neither starts anything', async () => {
  const before = (await api.traces.list({ limit: 100 })).items.length;
  const wrong = await notify([alert({ alertname: 'HighLatency', namespace: 'shop', pod: 'x' })], 'tj_nope');
  assert.equal(wrong.statusCode, 401);
  const v3 = await notify([alert({ alertname: 'HighLatency', namespace: 'shop', pod: 'x' })], TOKEN, { version: '3' });
  assert.equal(v3.statusCode, 400);
  assert.equal(v3.json().field, 'version');
  const badFp = await notify([{ ...alert({ alertname: 'HighLatency', namespace: 'shop' }), fingerprint: '../../x' }]);
  assert.equal(badFp.statusCode, 400);
  assert.equal(badFp.json().field, 'alerts.0.fingerprint');
  assert.equal((await api.traces.list({ limit: 100 })).items.length, before);
});
