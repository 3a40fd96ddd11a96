import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from '../../test/support/redis.ts';
import { evalScript } from './redis-script.ts';

let server: TestRedis;
let redis: Redis;
before(async () => {
  server = await startTestRedis();
  redis = server.client();
});
after(async () => {
  redis.disconnect();
  await server.close();
});

test('runs a script by SHA, loading it on first use and again after SCRIPT FLUSH', async () => {
  const script = "return redis.call('INCRBY', KEYS[1], ARGV[1])";
  assert.equal(await evalScript(redis, script, 1, 'n', 2), 2);
  assert.equal(await evalScript(redis, script, 1, 'n', 3), 5);
  await redis.script('FLUSH');
  assert.equal(await evalScript(redis, script, 1, 'n', 4), 9);
});

test('a script error is not mistaken for a missing script', async () => {
  await assert.rejects(evalScript(redis, "return redis.call('NOSUCHCOMMAND')", 0), /Unknown Redis command|unknown command/i);
});
