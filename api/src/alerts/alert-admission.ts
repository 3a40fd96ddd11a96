/**
 * Whether a firing alert may start a trace now, decided atomically in Redis for every API replica:
 * not when the same alert (fingerprint, per rule) started one within the dedup window, not past the
 * rule's or the global rate limit. An admitted alert holds its dedup mark and its rate-limit entries
 * at once; `release` gives them back when the trace could not be created after all.
 */
import type { Redis } from 'ioredis';
import { evalScript } from '../../../state/src/redis-script.ts';
import type { TraceRateLimit } from './alert-rules.ts';

const ADMIT = `
--[[
  May a firing alert start a trace now? Not when the same alert (rule + fingerprint) started one
  within the dedup window, nor past the rule's or the global rate limit (sliding windows). When
  admitted, the dedup mark and both rate-limit entries are taken at once.
  Input:
    KEYS[1] 'tj:alert:seen:<rule>:<fingerprint>': string, the trace id the alert started
    KEYS[2] 'tj:alert:rate:rule:<rule>': sorted set of admissions (score = ms)
    KEYS[3] 'tj:alert:rate:all': sorted set of admissions (score = ms)
    ARGV[1] now (ms)
    ARGV[2] dedup window (ms)
    ARGV[3] rule limit (0: none)     ARGV[4] rule window (ms)
    ARGV[5] global limit (0: none)   ARGV[6] global window (ms)
    ARGV[7] the trace id to be created
  Output:
    {'admitted', ''} | {'duplicate', <trace id>}
    | {'rule-rate-limited', <ms until a slot frees>} | {'global-rate-limited', <ms>}
]]
local now = tonumber(ARGV[1])
local prior = redis.call('GET', KEYS[1])
if prior then return {'duplicate', prior} end
local function full(key, limit, window)
  if limit <= 0 then return false end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) < limit then return false end
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tostring(math.max(0, tonumber(oldest[2]) + window - now))
end
local ruleLimit, ruleWindow = tonumber(ARGV[3]), tonumber(ARGV[4])
local allLimit, allWindow = tonumber(ARGV[5]), tonumber(ARGV[6])
local wait = full(KEYS[2], ruleLimit, ruleWindow)
if wait then return {'rule-rate-limited', wait} end
wait = full(KEYS[3], allLimit, allWindow)
if wait then return {'global-rate-limited', wait} end
redis.call('SET', KEYS[1], ARGV[7], 'PX', ARGV[2])
if ruleLimit > 0 then
  redis.call('ZADD', KEYS[2], now, ARGV[7])
  redis.call('PEXPIRE', KEYS[2], ruleWindow)
end
if allLimit > 0 then
  redis.call('ZADD', KEYS[3], now, ARGV[7])
  redis.call('PEXPIRE', KEYS[3], allWindow)
end
return {'admitted', ''}
`;

const RELEASE = `
--[[
  Undoes an admission whose trace was not created (so the alert may try again).
  Input:
    KEYS[1..3] as for ADMIT
    ARGV[1] the trace id admitted
  Output:
    1 when the dedup mark was still this admission's and was removed, else 0
]]
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

export type Admission =
  | { kind: 'admitted' }
  | { kind: 'duplicate'; traceId: string }
  | { kind: 'rule-rate-limited' | 'global-rate-limited'; retryAfterSeconds: number };

export interface AdmissionRequest {
  rule: string;
  fingerprint: string;
  traceId: string;
  dedupWindowSeconds: number;
  ruleLimit?: TraceRateLimit;
  globalLimit?: TraceRateLimit;
}

function keys(rule: string, fingerprint: string): [string, string, string] {
  return [`tj:alert:seen:${rule}:${fingerprint}`, `tj:alert:rate:rule:${rule}`, 'tj:alert:rate:all'];
}

export class AlertAdmission {
  constructor(private readonly redis: Redis) {}

  async admit(req: AdmissionRequest, nowMs = Date.now()): Promise<Admission> {
    const [kind, extra] = (await evalScript(
      this.redis,
      ADMIT,
      3,
      ...keys(req.rule, req.fingerprint),
      String(nowMs),
      String(req.dedupWindowSeconds * 1000),
      String(req.ruleLimit?.traces ?? 0),
      String((req.ruleLimit?.windowSeconds ?? 0) * 1000),
      String(req.globalLimit?.traces ?? 0),
      String((req.globalLimit?.windowSeconds ?? 0) * 1000),
      req.traceId,
    )) as [string, string];
    if (kind === 'admitted') return { kind };
    if (kind === 'duplicate') return { kind, traceId: extra };
    if (kind === 'rule-rate-limited' || kind === 'global-rate-limited') return { kind, retryAfterSeconds: Math.max(1, Math.ceil(Number(extra) / 1000)) };
    throw new Error(`alert-admit.lua answered ${JSON.stringify(kind)}`);
  }

  async release(req: Pick<AdmissionRequest, 'rule' | 'fingerprint' | 'traceId'>): Promise<void> {
    await evalScript(this.redis, RELEASE, 3, ...keys(req.rule, req.fingerprint), req.traceId);
  }
}
