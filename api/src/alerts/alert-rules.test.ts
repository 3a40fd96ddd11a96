import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AlertRulesError, loadAlertRulesFile, parseAlertRules, parseMatcher, ruleFor, targetFromLabels } from './alert-rules.ts';

const limits = { maxDurationSeconds: 300 };

test('matchers in Alertmanager syntax: =, !=, =~ and !~ (anchored), quoted or not', () => {
  const labels = { alertname: 'HighLatency', severity: 'page', team: 'shop' };
  const check = (text: string) => {
    const m = parseMatcher(text, 'm');
    return ruleFor({ rules: [{ name: 'r', matchers: [m], gadget: 'exec', params: {} }], dedupWindowSeconds: 1, source: 't' }, labels) !== undefined;
  };
  assert.equal(check('alertname="HighLatency"'), true);
  assert.equal(check('alertname=HighLatency'), true);
  assert.equal(check('alertname!="HighLatency"'), false);
  assert.equal(check('severity=~"page|critical"'), true);
  assert.equal(check('severity=~"pag"'), false, 'regular expressions are anchored');
  assert.equal(check('team!~"ops.*"'), true);
  assert.equal(check('missing=""'), true, 'a missing label is the empty string, as in Alertmanager');
  assert.equal(check('quote="a \\"b\\""'), false);
  assert.throws(() => parseMatcher('alertname', 'rules[0].matchers[0]'), (e: unknown) => e instanceof AlertRulesError && e.field === 'rules[0].matchers[0]');
  assert.throws(() => parseMatcher('x=~"("', 'f'), /not a valid regular expression/);
});

test('the first rule whose matchers all match wins', () => {
  const rules = parseAlertRules(
    {
      rules: [
        { name: 'db', matchers: ['alertname="HighLatency"', 'service="db"'], gadget: 'open', durationSeconds: 20 },
        { name: 'latency', match: { alertname: 'HighLatency' }, gadget: 'tcpconnect', limits: { maxEvents: 500 }, rateLimit: { traces: 2, windowSeconds: 60 } },
      ],
      dedupWindowSeconds: 600,
      rateLimit: { traces: 10 },
    },
    'rules.yaml',
    limits,
  );
  assert.equal(ruleFor(rules, { alertname: 'HighLatency', service: 'db' })?.name, 'db');
  assert.equal(ruleFor(rules, { alertname: 'HighLatency', service: 'web' })?.name, 'latency');
  assert.equal(ruleFor(rules, { alertname: 'DiskFull' }), undefined);
  const latency = rules.rules[1]!;
  assert.equal(latency.maxEvents, 500);
  assert.deepEqual(latency.rateLimit, { traces: 2, windowSeconds: 60 });
  assert.equal(rules.dedupWindowSeconds, 600);
  assert.deepEqual(rules.rateLimit, { traces: 10, windowSeconds: 60 });
});

test('bad rules are refused at start with the rule and field named', () => {
  const rule = { name: 'r', matchers: ['alertname="A"'], gadget: 'exec' };
  const bad: [unknown, string][] = [
    [{}, 'rules'],
    [{ rules: [] }, 'rules'],
    [{ rules: [{ ...rule, name: 'bad name' }] }, 'rules[0].name'],
    [{ rules: [{ ...rule, matchers: undefined }] }, 'rules[0].matchers'],
    [{ rules: [{ ...rule, matchers: ['nope'] }] }, 'rules[0].matchers[0]'],
    [{ rules: [rule, { ...rule, gadget: 'kprobe' }] }, 'rules[1].gadget'],
    [{ rules: [{ ...rule, durationSeconds: 301 }] }, 'rules[0].durationSeconds'],
    [{ rules: [{ ...rule, limits: { maxEvents: 0 } }] }, 'rules[0].limits.maxEvents'],
    [{ rules: [{ ...rule, rateLimit: { windowSeconds: 5 } }] }, 'rules[0].rateLimit.traces'],
    [{ rules: [{ ...rule, target: {} }] }, 'rules[0].target'],
    [{ rules: [rule, rule] }, 'rules[1].name'],
    [{ rules: [rule], dedupWindowSeconds: -1 }, 'dedupWindowSeconds'],
  ];
  for (const [doc, field] of bad) {
    assert.throws(() => parseAlertRules(doc, 'rules.yaml', limits), (e: unknown) => e instanceof AlertRulesError && e.field === field, `expected an error on ${field}`);
  }
  const checkParams = () => ({ field: 'port', message: 'must be a port' });
  assert.throws(
    () => parseAlertRules({ rules: [{ ...rule, params: { port: 'x' } }] }, 'rules.yaml', { ...limits, checkParams }),
    (e: unknown) => e instanceof AlertRulesError && e.field === 'rules[0].params.port',
  );
});

test('the rules file is read as YAML; an unreadable or broken file says which', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tj-alert-rules-'));
  try {
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, 'rules:\n  - name: crash\n    matchers: [\'alertname="KubePodCrashLooping"\']\n    gadget: exec\n');
    assert.equal(loadAlertRulesFile(file, limits).rules[0]!.name, 'crash');
    writeFileSync(file, 'rules: [unclosed');
    assert.throws(() => loadAlertRulesFile(file, limits), /rules\.yaml: is not valid YAML/);
    assert.throws(() => loadAlertRulesFile(join(dir, 'missing.yaml'), limits), /ALERT_RULES_FILE: cannot read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the target comes from the namespace, pod, container and node labels; bad values are refused', () => {
  assert.deepEqual(targetFromLabels({ namespace: 'shop', pod: 'web-1', container: 'app', node: 'node-a', alertname: 'X' }), {
    ok: true,
    target: { namespace: 'shop', podName: 'web-1', containerName: 'app', nodeName: 'node-a' },
  });
  assert.deepEqual(targetFromLabels({ namespace: 'shop' }), { ok: true, target: { namespace: 'shop' } });
  assert.equal(targetFromLabels({ pod: 'web-1' }).ok, false);
  const bad = targetFromLabels({ namespace: 'shop', pod: 'Web_1; rm -rf' });
  assert.deepEqual(bad.ok ? undefined : bad.label, 'pod');
  assert.equal(targetFromLabels({ namespace: 'Shop' }).ok, false);
});
