import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeTrigger, traceEndMessage, type TraceFacts } from './slack-messages.ts';

const facts: TraceFacts = {
  id: '3f2a1c4e-1b2c-4d5e-8f90-0123456789ab',
  status: 'succeeded',
  gadget: 'tcpconnect',
  durationSeconds: 30,
  target: { namespace: 'shop', podName: 'web-1' },
  nodes: [],
};

test('the summary of a trace started by an alert names the alert, its rule and fingerprint', () => {
  const trigger = { kind: 'alert' as const, rule: 'high-latency', fingerprint: '5f0c1d2e3a4b5c6d', alertname: 'HighLatency', labels: { alertname: 'HighLatency', namespace: 'shop' } };
  const text = traceEndMessage({ ...facts, trigger }, undefined, {}).text;
  assert.match(text, /started by alert \*HighLatency\* \(rule `high-latency`, fingerprint `5f0c1d2e3a4b5c6d`\)/);
  assert.doesNotMatch(traceEndMessage(facts, undefined, {}).text, /started by/, 'a trace someone asked for says nothing of the kind');
});

test('a schedule run says which schedule; markup in an alert name cannot break out', () => {
  assert.equal(describeTrigger({ kind: 'schedule', scheduleId: 'abc' }), 'run of schedule `abc`');
  assert.match(describeTrigger({ kind: 'alert', rule: 'r', fingerprint: 'f', alertname: '*bold* `code`', labels: {} }), /alert \*'bold' 'code'\*/);
});
