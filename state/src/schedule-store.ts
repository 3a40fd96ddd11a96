/**
 * Schedules in Redis: what to trace (a validated trace spec), when (`every` or `cron` + time zone),
 * who owns it, and its runs (trace ids, newest first, the last `keepRuns`). Shared by the API
 * (create, list, read, delete) and the scheduler (record a run). When a run falls off the list its
 * trace record, if it has ended, is set to expire at once, so the API's result expiry removes its
 * results as it does for any expired trace.
 *
 * Keys (prefix `tj:`): `schedule:<id>` hash, `schedules` sorted set (by creation time),
 * `schedules:owner:<owner>` set (per-token limit), `schedule:<id>:runs` list of trace ids.
 */
import type { SlotScope } from './concurrency-slots.ts';
import type { Redis } from 'ioredis';
import type { TraceSpec } from '../../contracts/index.ts';
import { evalScript } from './redis-script.ts';

export interface ScheduleRecord {
  id: string;
  /** The principal (token or policy name) that created it. */
  owner: string;
  /** What each run traces: an ordinary trace spec. */
  trace: TraceSpec;
  every?: string;
  cron?: string;
  timeZone?: string;
  keepRuns: number;
  createdAt: string;
  /**
   * The concurrency slots each run takes (its owner's and the server's maxConcurrentTraces, as
   * they were when the schedule was made): a run that finds one full is skipped, not queued.
   */
  slots?: SlotScope[];
}

/** Runs that did not start because a limit was reached: how many, and the newest. */
export interface ScheduleSkips {
  skippedRuns: number;
  lastSkipped?: { dueAt: string; reason: string };
}

export interface ScheduleRun {
  traceId: string;
}

export type CreateScheduleOutcome = { kind: 'created' } | { kind: 'limit'; count: number };

const CREATE = `
--[[
  Records a schedule unless its owner already has as many as its limit.
  Input:
    KEYS[1] 'tj:schedule:<id>': hash, field record = the schedule's JSON
    KEYS[2] 'tj:schedules': sorted set of schedule ids by creation time
    KEYS[3] 'tj:schedules:owner:<owner>': set of the owner's schedule ids
    ARGV[1] id   ARGV[2] record JSON   ARGV[3] created at (ms)   ARGV[4] the owner's limit (0: none)
  Output:
    {'created', 0} | {'limit', <schedules the owner has>}
]]
local limit = tonumber(ARGV[4])
if limit > 0 then
  local count = redis.call('SCARD', KEYS[3])
  if count >= limit then return {'limit', count} end
end
redis.call('HSET', KEYS[1], 'record', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return {'created', 0}
`;

const RECORD_RUN = `
--[[
  Prepends a run and trims the list to keepRuns; the trace records of runs that fell off expire
  now when they have ended (running ones keep their retention).
  Input:
    KEYS[1] 'tj:schedule:<id>'
    KEYS[2] 'tj:schedule:<id>:runs': list of trace ids, newest first
    ARGV[1] trace id   ARGV[2] keepRuns
  Output:
    the number of runs that fell off, or -1 when the schedule is gone (nothing recorded)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local keep = tonumber(ARGV[2])
redis.call('LREM', KEYS[2], 0, ARGV[1])
redis.call('LPUSH', KEYS[2], ARGV[1])
local dropped = redis.call('LRANGE', KEYS[2], keep, -1)
redis.call('LTRIM', KEYS[2], 0, keep - 1)
for _, id in ipairs(dropped) do
  local st = redis.call('HGET', 'tj:trace:' .. id, 'status')
  if st == 'succeeded' or st == 'partial' or st == 'failed' or st == 'cancelled' then
    redis.call('PEXPIRE', 'tj:trace:' .. id, 1)
  end
end
return #dropped
`;

const DELETE = `
--[[
  Deletes a schedule and its run list; the runs' traces stay (ordinary traces, own retention).
  Input:
    KEYS[1] 'tj:schedule:<id>'   KEYS[2] 'tj:schedules'   KEYS[3] 'tj:schedule:<id>:runs'
    ARGV[1] id   ARGV[2] the owners' set prefix ('tj:schedules:owner:')
  Output:
    1 when deleted, 0 when there was no such schedule
]]
local raw = redis.call('HGET', KEYS[1], 'record')
if not raw then return 0 end
local owner = cjson.decode(raw)['owner']
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('ZREM', KEYS[2], ARGV[1])
if owner then redis.call('SREM', ARGV[2] .. owner, ARGV[1]) end
return 1
`;

const RECORD_SKIP = `
--[[
  Counts a run that was skipped and keeps the newest reason (nothing when the schedule is gone).
  Input:
    KEYS[1] 'tj:schedule:<id>': hash, fields skippedRuns (count), lastSkipped (JSON {dueAt, reason})
    ARGV[1] JSON {dueAt, reason}
  Output:
    the number of skipped runs, or -1 when the schedule is gone
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'lastSkipped', ARGV[1])
return redis.call('HINCRBY', KEYS[1], 'skippedRuns', 1)
`;

const INDEX = 'tj:schedules';
const OWNER_PREFIX = 'tj:schedules:owner:';

export class ScheduleStore {
  constructor(private readonly redis: Redis) {}

  private key(id: string): string {
    return `tj:schedule:${id}`;
  }

  private runsKey(id: string): string {
    return `tj:schedule:${id}:runs`;
  }

  /** Records a schedule unless its owner already has `ownerLimit` (0: no limit). */
  async create(rec: ScheduleRecord, ownerLimit: number): Promise<CreateScheduleOutcome> {
    const [kind, count] = (await evalScript(
      this.redis,
      CREATE,
      3,
      this.key(rec.id),
      INDEX,
      OWNER_PREFIX + rec.owner,
      rec.id,
      JSON.stringify(rec),
      String(Date.parse(rec.createdAt)),
      String(ownerLimit),
    )) as [string, number];
    return kind === 'created' ? { kind: 'created' } : { kind: 'limit', count };
  }

  async get(id: string): Promise<ScheduleRecord | undefined> {
    const raw = await this.redis.hget(this.key(id), 'record');
    return raw ? (JSON.parse(raw) as ScheduleRecord) : undefined;
  }

  /** Every schedule, newest first. */
  async list(): Promise<ScheduleRecord[]> {
    const ids = await this.redis.zrevrange(INDEX, 0, -1);
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hget(this.key(id), 'record');
    const res = (await pipe.exec()) ?? [];
    return res.map((r) => r?.[1]).filter((raw): raw is string => typeof raw === 'string').map((raw) => JSON.parse(raw) as ScheduleRecord);
  }

  async delete(id: string): Promise<boolean> {
    return (await evalScript(this.redis, DELETE, 3, this.key(id), INDEX, this.runsKey(id), id, OWNER_PREFIX)) === 1;
  }

  /** Adds a run (newest first, the last keepRuns kept); false when the schedule is gone. */
  async recordRun(id: string, traceId: string, keepRuns: number): Promise<boolean> {
    return (await evalScript(this.redis, RECORD_RUN, 2, this.key(id), this.runsKey(id), traceId, String(keepRuns))) !== -1;
  }

  /** Counts a run that did not start (`reason`); false when the schedule is gone. */
  async recordSkip(id: string, dueAt: string, reason: string): Promise<boolean> {
    return (await evalScript(this.redis, RECORD_SKIP, 1, this.key(id), JSON.stringify({ dueAt, reason }))) !== -1;
  }

  async skips(id: string): Promise<ScheduleSkips> {
    const [count, last] = await this.redis.hmget(this.key(id), 'skippedRuns', 'lastSkipped');
    const out: ScheduleSkips = { skippedRuns: Number(count ?? 0) };
    if (last) out.lastSkipped = JSON.parse(last) as ScheduleSkips['lastSkipped'] & object;
    return out;
  }

  /** Trace ids of the runs, newest first. */
  async runs(id: string): Promise<string[]> {
    return this.redis.lrange(this.runsKey(id), 0, -1);
  }
}
