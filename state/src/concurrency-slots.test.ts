import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from '../../test/support/redis.ts';
import { ConcurrencySlots, slotRefusal, traceSlotScopes } from './concurrency-slots.ts';

let redis: TestRedis;
let client: Redis;
before(async () => {
  redis = await startTestRedis({ appendfsync: 'everysec' });
  client = redis.client();
});
after(async () => {
  await redis.close();
});

test('concurrency slots: limits per scope, all-or-nothing, released when the trace ends', async () => {
  const slots = new ConcurrencySlots(client, 'test:active');
  const scopes = [{ key: 'token:a', limit: 2 }, { key: 'all', limit: 3 }];
  for (const id of ['t1', 't2']) {
    await client.hset(`tj:trace:${id}`, 'status', 'running');
    assert.deepEqual(await slots.acquire(scopes, `r:${id}`, 60_000), { ok: true });
    await slots.commit(scopes, `r:${id}`, id, 3_600_000);
  }
  assert.deepEqual(await slots.acquire(scopes, 'r:x', 60_000), { ok: false, scope: 'token:a', active: 2, limit: 2 });
  assert.equal(await slots.active('all'), 2, 'a refused acquire takes nothing in the other scopes');
  assert.deepEqual(await slots.acquire([{ key: 'token:b', limit: 5 }, { key: 'all', limit: 3 }], 'r:y', 60_000), { ok: true });
  assert.deepEqual(await slots.acquire([{ key: 'token:c', limit: 5 }, { key: 'all', limit: 3 }], 'r:z', 60_000), { ok: false, scope: 'all', active: 3, limit: 3 });
  await slots.release([{ key: 'token:b' }, { key: 'all' }], 'r:y');
  // t1 finishes (status written by the scheduler), t2's record expires: both slots free up.
  await client.hset('tj:trace:t1', 'status', 'succeeded');
  await client.del('tj:trace:t2');
  assert.equal(await slots.active('token:a'), 0);
  assert.deepEqual(await slots.acquire(scopes, 'r:w', 60_000), { ok: true });
  // An uncommitted reservation lapses after its ttl.
  assert.equal(await slots.active('token:a', Date.now() + 61_000), 0);
});

test('the scopes a trace takes: only the limited ones; a refusal names who is full', () => {
  assert.deepEqual(traceSlotScopes('shop', 2, 6), [{ key: 'token:shop', limit: 2 }, { key: 'all', limit: 6 }]);
  assert.deepEqual(traceSlotScopes('shop', undefined, 6), [{ key: 'all', limit: 6 }]);
  assert.deepEqual(traceSlotScopes('shop', 0, undefined), []);
  assert.equal(slotRefusal({ ok: false, scope: 'token:shop', active: 2, limit: 2 }, 'shop'), 'shop already has 2 traces queued or running (limit 2)');
  assert.equal(slotRefusal({ ok: false, scope: 'all', active: 6, limit: 6 }, 'shop'), 'the server already has 6 traces queued or running (limit 6)');
});
