import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AccessPolicy } from './access-policy.ts';
import { mayCreateTrace, maySeeTrace, mayStartAnotherTrace } from './policy.ts';

const shop: AccessPolicy = { name: 'shop', namespaces: ['shop'], gadgets: ['exec', 'open'], local: false, maxDurationSeconds: 60, maxConcurrentTraces: 2 };
const all: AccessPolicy = { name: 'ops', namespaces: ['*'], gadgets: ['*'], local: false };
const local: AccessPolicy = { name: 'dev', namespaces: [], gadgets: ['*'], local: true };

test('a token sees traces of its namespaces only; local traces need local: true', () => {
  assert.equal(maySeeTrace(shop, { namespace: 'shop' }), true);
  assert.equal(maySeeTrace(shop, { namespace: 'payments' }), false);
  assert.equal(maySeeTrace(all, { namespace: 'payments' }), true);
  assert.equal(maySeeTrace(all, { pids: [1] }), false, "'*' namespaces do not include namespace-free local traces");
  assert.equal(maySeeTrace(local, { pids: [1] }), true);
  assert.equal(maySeeTrace(local, { namespace: 'shop' }), false);
});

test('creation is checked for namespace, gadget and duration, naming the field', () => {
  assert.deepEqual(mayCreateTrace(shop, { gadget: 'exec', durationSeconds: 30, target: { namespace: 'shop' } }), { allowed: true });
  const refusals: [Parameters<typeof mayCreateTrace>[1], string][] = [
    [{ gadget: 'exec', durationSeconds: 30, target: { namespace: 'payments' } }, 'target.namespace'],
    [{ gadget: 'tcpconnect', durationSeconds: 30, target: { namespace: 'shop' } }, 'gadget'],
    [{ gadget: 'exec', durationSeconds: 61, target: { namespace: 'shop' } }, 'durationSeconds'],
    [{ gadget: 'exec', durationSeconds: 30, target: { containerIds: ['abc'] } }, 'target'],
  ];
  for (const [req, field] of refusals) {
    const d = mayCreateTrace(shop, req);
    assert.equal(d.allowed, false);
    assert.equal(!d.allowed && d.field, field);
  }
  // The server default duration counts when the request gives none.
  assert.equal(mayCreateTrace(shop, { gadget: 'exec', target: { namespace: 'shop' } }, 300).allowed, false);
  assert.equal(mayCreateTrace(local, { gadget: 'signal', target: { cgroupPaths: ['/a'] } }).allowed, true);
});

test('concurrency: the n-th trace beyond the limit is refused', () => {
  assert.equal(mayStartAnotherTrace(shop, 1).allowed, true);
  assert.equal(mayStartAnotherTrace(shop, 2).allowed, false);
  assert.equal(mayStartAnotherTrace(all, 10_000).allowed, true);
});
