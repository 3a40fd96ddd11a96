/**
 * Runs a Lua script by its SHA1 (EVALSHA), loading it with EVAL only when Redis does not know it
 * yet (NOSCRIPT: first use, or after a restart or SCRIPT FLUSH). Sending the whole script text on
 * every call costs bandwidth and a SHA1 per call in Redis.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

const shas = new Map<string, string>();

function shaOf(script: string): string {
  let sha = shas.get(script);
  if (!sha) {
    sha = createHash('sha1').update(script).digest('hex');
    shas.set(script, sha);
  }
  return sha;
}

export async function evalScript(redis: Redis, script: string, numKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown> {
  try {
    return await redis.evalsha(shaOf(script), numKeys, ...keysAndArgs);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return redis.eval(script, numKeys, ...keysAndArgs);
  }
}
