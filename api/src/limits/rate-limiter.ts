/**
 * Rate limiting per caller in Redis: a sliding window approximated from two fixed windows (the
 * previous window's count weighted by how much of it still overlaps). Shared by every API replica.
 * Keys: `tj:rl:<caller>:<window index>`, expiring after two windows.
 */
import type { Redis } from 'ioredis';
import type { RateLimitPolicy } from '../auth/access-policy.ts';
import { evalScript } from '../../../state/src/redis-script.ts';

const TAKE = `
--[[
  Counts one request against a sliding window approximated from two fixed windows.
  Input:
    KEYS[1] this window's counter 'tj:rl:<caller>:<index>'
    KEYS[2] the previous window's counter 'tj:rl:<caller>:<index - 1>'
    ARGV[1] requests allowed per window
    ARGV[2] window (ms)
    ARGV[3] ms elapsed in this window
  Output:
    {1, cur, prev}  allowed (cur counts this request)
    {0, cur, prev}  refused; nothing counted
]]
local limit = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[2])
local elapsed = tonumber(ARGV[3])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
local weighted = prev * (windowMs - elapsed) / windowMs + cur
if weighted + 1 > limit then return {0, cur, prev} end
redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], windowMs * 2)
return {1, cur + 1, prev}
`;

export type RateDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterSeconds: number };

/** Milliseconds until one more request fits, given the counts of this and the previous window. */
export function waitForNextRequestMs(limit: number, windowMs: number, elapsed: number, cur: number, prev: number): number {
  if (cur + 1 <= limit) {
    // prev * (W - e') / W + cur + 1 <= limit  →  e' >= W - (limit - cur - 1) * W / prev
    const at = prev > 0 ? windowMs - ((limit - cur - 1) * windowMs) / prev : elapsed;
    return Math.max(0, at - elapsed);
  }
  // This window is full: wait for the next one, where `cur` becomes the weighted previous count.
  const inNext = cur > 0 ? Math.max(0, windowMs - ((limit - 1) * windowMs) / cur) : 0;
  return windowMs - elapsed + inNext;
}

export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'tj:rl',
  ) {}

  /** Counts one request of `caller` against `policy`; refuses with the seconds to wait. */
  async take(caller: string, policy: RateLimitPolicy, nowMs = Date.now()): Promise<RateDecision> {
    const windowMs = policy.windowSeconds * 1000;
    const index = Math.floor(nowMs / windowMs);
    const elapsed = nowMs - index * windowMs;
    const key = (i: number) => `${this.prefix}:${caller}:${i}`;
    const [ok, cur, prev] = (await evalScript(this.redis, TAKE, 2, key(index), key(index - 1), String(policy.requests), String(windowMs), String(elapsed))) as [number, number, number];
    if (ok === 1) return { allowed: true, remaining: Math.max(0, Math.floor(policy.requests - cur - (prev * (windowMs - elapsed)) / windowMs)) };
    const waitMs = waitForNextRequestMs(policy.requests, windowMs, elapsed, cur, prev);
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }
}
