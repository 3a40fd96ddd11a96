/**
 * Concurrent-trace counters in Redis, one sorted set per scope (`token:<name>`, `all`,
 * `node:<name>`). Members are trace ids, or `r:<id>` reservations held while a POST is being
 * handled. A member is released explicitly, or automatically as soon as its trace record
 * (`tj:trace:<id>`, written by the trace store) is gone or has a final status — so a crashed
 * scheduler or API never leaks a slot. Scores are expiry times (ms) as a last resort.
 * Single Redis instance only (the script reads trace keys it is not given).
 */
import type { Redis } from 'ioredis';
import { evalScript } from './redis-script.ts';

/** How long a reservation (a trace being created) holds its slot before it lapses. */
export const RESERVATION_MS = 60_000;
/** Last-resort expiry of a trace's slot (slots are freed when the trace ends). */
export const TRACE_SLOT_MS = 48 * 3600_000;

/** Lua function shared by ACQUIRE and COUNT (no KEYS/ARGV of its own). */
const PRUNE = `
--[[
  prune(key, now, keep): drops from the sorted set 'key' the members that expired (score <= now)
  and the trace ids whose record 'tj:trace:<id>' is gone or has a final status; reservations
  ('r:...') and 'keep' stay. Returns the set's size after.
]]
local function prune(key, now, keep)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  for _, m in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    if string.sub(m, 1, 2) ~= 'r:' and m ~= keep then
      local st = redis.call('HGET', 'tj:trace:' .. m, 'status')
      if (not st) or st == 'succeeded' or st == 'partial' or st == 'failed' or st == 'cancelled' then
        redis.call('ZREM', key, m)
      end
    end
  end
  return redis.call('ZCARD', key)
end
`;

// The set's size is an upper bound of the active traces; only when it reaches the limit are the
// members checked one by one (prune), so a POST under the limit costs O(log n), not a scan.
const ACQUIRE = `${PRUNE}
--[[
  Takes a slot for one member in every scope at once, or in none when one is full.
  Input:
    KEYS[1..n]   slot sets 'tj:active:<scope>' (sorted sets, score: expiry in ms)
    ARGV[1]      now (ms)
    ARGV[2]      member (trace id, or 'r:<request id>' for a reservation)
    ARGV[3]      the member's expiry (ms)
    ARGV[3+i]    limit of KEYS[i] (0: counted, unlimited)
  Output:
    {1, 0, 0}          taken in every scope
    {0, i, active}     KEYS[i] is full with 'active' members; nothing taken
]]
local now = tonumber(ARGV[1])
local member = ARGV[2]
local score = tonumber(ARGV[3])
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[3 + i])
  if limit > 0 and redis.call('ZSCORE', key, member) == false then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    local count = redis.call('ZCARD', key)
    if count >= limit then count = prune(key, now, member) end
    if count >= limit then return {0, i, count} end
  end
end
for _, key in ipairs(KEYS) do redis.call('ZADD', key, score, member) end
return {1, 0, 0}
`;

const COUNT = `${PRUNE}
--[[
  Input:
    KEYS[1] slot set 'tj:active:<scope>'
    ARGV[1] now (ms)
  Output:
    members holding a slot, after pruning
]]
return prune(KEYS[1], tonumber(ARGV[1]), '')
`;

const COMMIT = `
--[[
  Turns a reservation into the trace id it became, in every scope that holds it.
  Input:
    KEYS[1..n] slot sets 'tj:active:<scope>'
    ARGV[1]    reservation member 'r:<request id>'
    ARGV[2]    trace id
    ARGV[3]    the trace's expiry (ms)
    ARGV[4]    '1': add the trace id even where the reservation is gone
  Output:
    1
]]
for _, key in ipairs(KEYS) do
  if redis.call('ZREM', key, ARGV[1]) == 1 or ARGV[4] == '1' then redis.call('ZADD', key, ARGV[3], ARGV[2]) end
end
return 1
`;

export interface SlotScope {
  /** e.g. `token:shop`, `all`, `node:worker-1`. */
  key: string;
  /** Limit for this scope; undefined or 0: counted but unlimited (callers leave unlimited scopes out). */
  limit?: number;
}

/**
 * The scopes a new trace of `owner` takes a slot in: its own (`token:<owner>`) when its policy
 * limits it, and the server's (`all`) when that is limited. Only limited scopes are tracked: an
 * unlimited one would be a set that grows with every trace. The same for every way a trace starts
 * (POST, an alert, a schedule's run).
 */
export function traceSlotScopes(owner: string, ownerLimit: number | undefined, serverLimit: number | undefined): SlotScope[] {
  const scopes: SlotScope[] = [];
  if (ownerLimit) scopes.push({ key: `token:${owner}`, limit: ownerLimit });
  if (serverLimit) scopes.push({ key: 'all', limit: serverLimit });
  return scopes;
}

/** Says who is at its limit, for a 429 or a skipped run. */
export function slotRefusal(d: Extract<SlotDecision, { ok: false }>, owner: string): string {
  const who = d.scope === 'all' ? 'the server' : owner;
  return `${who} already has ${d.active} traces queued or running (limit ${d.limit})`;
}

export type SlotDecision = { ok: true } | { ok: false; scope: string; active: number; limit: number };

export class ConcurrencySlots {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'tj:active',
  ) {}

  private k(scope: string): string {
    return `${this.prefix}:${scope}`;
  }

  /**
   * Takes a slot in every scope at once, or none when one is full. `member` is a trace id, or
   * `r:<request id>` for a reservation that expires after `ttlMs` unless committed.
   */
  async acquire(scopes: readonly SlotScope[], member: string, ttlMs: number, nowMs = Date.now()): Promise<SlotDecision> {
    if (scopes.length === 0) return { ok: true };
    const out = (await evalScript(this.redis, ACQUIRE,
      scopes.length,
      ...scopes.map((s) => this.k(s.key)),
      String(nowMs),
      member,
      String(nowMs + ttlMs),
      ...scopes.map((s) => String(s.limit ?? 0)),
    )) as [number, number, number];
    if (out[0] === 1) return { ok: true };
    const scope = scopes[out[1] - 1]!;
    return { ok: false, scope: scope.key, active: out[2], limit: scope.limit ?? 0 };
  }

  /** Turns reservation `r:<id>` into the trace id it became, kept until the trace ends (or `ttlMs`). */
  async commit(scopes: readonly SlotScope[], reservation: string, traceId: string, ttlMs: number, nowMs = Date.now()): Promise<void> {
    if (scopes.length === 0) return;
    await evalScript(this.redis, COMMIT, scopes.length, ...scopes.map((s) => this.k(s.key)), reservation, traceId, String(nowMs + ttlMs), '0');
  }

  async release(scopes: readonly SlotScope[], member: string): Promise<void> {
    if (scopes.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const s of scopes) pipe.zrem(this.k(s.key), member);
    await pipe.exec();
  }

  /** Members currently holding a slot in `scope` (after pruning ended traces). */
  async active(scope: string, nowMs = Date.now()): Promise<number> {
    return (await evalScript(this.redis, COUNT, 1, this.k(scope), String(nowMs))) as number;
  }
}
