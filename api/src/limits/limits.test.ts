import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from '../../../test/support/redis.ts';
import { RateLimiter, waitForNextRequestMs } from './rate-limiter.ts';
import { digestCheck, UploadOnce } from './upload-once.ts';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

let redis: TestRedis;
let client: Redis;
before(async () => {
  redis = await startTestRedis({ appendfsync: 'everysec' });
  client = redis.client();
});
after(async () => {
  await redis.close();
});

test('rate limiter: N per window, then refused with a Retry-After after which a request fits', async () => {
  const rl = new RateLimiter(client, 'test:rl');
  const policy = { requests: 5, windowSeconds: 10 };
  const t0 = 1_000_000_000_000; // start of a window
  for (let i = 0; i < 5; i += 1) assert.equal((await rl.take('a', policy, t0 + i)).allowed, true);
  const refused = await rl.take('a', policy, t0 + 10);
  assert.equal(refused.allowed, false);
  const wait = !refused.allowed ? refused.retryAfterSeconds : 0;
  assert.ok(wait >= 1 && wait <= 20, `retry after ${wait}s`);
  assert.equal((await rl.take('a', policy, t0 + 10 + wait * 1000 - 1500)).allowed, false, 'still refused well before Retry-After');
  assert.equal((await rl.take('a', policy, t0 + 10 + wait * 1000)).allowed, true, 'accepted at Retry-After');
  assert.equal((await rl.take('b', policy, t0 + 10)).allowed, true, 'callers are counted apart');
});

test('rate limiter: the previous window weighs on the current one (sliding)', async () => {
  const rl = new RateLimiter(client, 'test:rl2');
  const policy = { requests: 4, windowSeconds: 10 };
  const t0 = 2_000_000_000_000;
  for (let i = 0; i < 4; i += 1) await rl.take('c', policy, t0 + 9000);
  // 1 s into the next window, 90 % of the previous 4 still count: 3.6 + 1 > 4.
  assert.equal((await rl.take('c', policy, t0 + 11_000)).allowed, false);
  // 6 s in, 40 %: 1.6 + 1 ≤ 4.
  assert.equal((await rl.take('c', policy, t0 + 16_000)).allowed, true);
  assert.equal(waitForNextRequestMs(4, 10_000, 1000, 0, 4), 1500);
});

test('upload once: a second upload for a node is refused unless it is the same upload', async () => {
  const once = new UploadOnce(client, 60);
  assert.deepEqual(await once.check('t', 'n1', { uploadId: 'u1' }), { ok: true, resume: false });
  assert.equal(await once.record('t', 'n1', { uploadId: 'u1', sha256: 'a'.repeat(64) }), true);
  assert.deepEqual(await once.check('t', 'n1', { uploadId: 'u1' }), { ok: true, resume: true });
  assert.deepEqual(await once.check('t', 'n1', { sha256: 'a'.repeat(64) }), { ok: true, resume: true });
  const other = await once.check('t', 'n1', { uploadId: 'u2' });
  assert.equal(other.ok, false);
  assert.equal((await once.check('t', 'n1', {})).ok, false);
  assert.equal((await once.check('t', 'n2', {})).ok, true, 'other nodes are independent');
  assert.equal(await once.record('t', 'n1', { uploadId: 'u2' }), false, 'the first record wins');
});

test('digestCheck passes matching bytes and fails on a mismatch', async () => {
  const body = Buffer.from('hello result');
  const hex = createHash('sha256').update(body).digest('hex');
  const seen: Buffer[] = [];
  await pipeline(Readable.from([body]), digestCheck(hex), async function (src: AsyncIterable<unknown>) {
    for await (const c of src) seen.push(c as Buffer);
  });
  assert.equal(Buffer.concat(seen).toString(), 'hello result');
  await assert.rejects(pipeline(Readable.from([body]), digestCheck('0'.repeat(64)), async function (src: AsyncIterable<unknown>) {
    for await (const _ of src) void _;
  }), /X-Content-SHA256 says/);
});
