/**
 * The trace record in Redis: spec, status, timings, per-node state written by the scheduler and
 * per-node result counts written by the API when a runner uploads. Shared by the API and the
 * scheduler processes; state transitions are atomic (Lua) so a cancel and a finishing worker never
 * overwrite each other.
 *
 * Keys (prefix `tj:`): `trace:<id>` hash, `traces` sorted set (index by creation time),
 * `idem:<key>` idempotency records, channel `cancel` (trace ids whose cancel was requested).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { isTerminal, type NodePlan, type NodeProgress, type NodeState, type NodeStatus, type TraceSpec, type TraceStatus } from '../../contracts/index.ts';
import { evalScript } from './redis-script.ts';

export interface NodeResultCounts {
  events: number;
  lostEvents: number;
  truncated: boolean;
  stopReason?: string;
  error?: string;
  bytes: number;
  uploadedAt: string;
}

export interface NodeView extends NodeState {
  uploaded: boolean;
}

/** A runner's last progress report, as kept in the trace record. */
interface StoredProgress extends NodeProgress {
  at: string;
}

export interface TraceRecord {
  id: string;
  spec: TraceSpec;
  status: TraceStatus;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  cancelRequested: boolean;
  error?: string;
  nodes: NodeView[];
}

export type CreateOutcome = { kind: 'created'; id: string } | { kind: 'existing'; id: string } | { kind: 'conflict'; id: string };

export type CancelOutcome = { kind: 'cancelled' } | { kind: 'requested' } | { kind: 'finished'; status: TraceStatus } | { kind: 'missing' };

const CREATE = `
--[[
  Creates a trace record (status queued) and indexes it, unless an idempotency key names a
  trace that still exists.
  Input:
    KEYS[1] idempotency record 'tj:idem:<hash of key>' (a string '<request hash> <id>')
    KEYS[2] trace record 'tj:trace:<id>' (hash)
    KEYS[3] index 'tj:traces' (sorted set, score: creation time in ms)
    ARGV[1] '1' when an idempotency key was given, else '0'
    ARGV[2] request hash
    ARGV[3] trace id
    ARGV[4] creation time (ms, index score)
    ARGV[5] idempotency record TTL (s)
    ARGV[6] spec (JSON)
    ARGV[7] creation time (ISO 8601)
    ARGV[8] idempotency key as given ('' when none)
  Output:
    {'created', id}   the record was written
    {'existing', id}  same key and same request: that trace
    {'conflict', id}  same key, another request
]]
local idem = KEYS[1]
if ARGV[1] == '1' then
  local prior = redis.call('GET', idem)
  if prior then
    local sep = string.find(prior, ' ', 1, true)
    local hash = string.sub(prior, 1, sep - 1)
    local id = string.sub(prior, sep + 1)
    if redis.call('EXISTS', 'tj:trace:' .. id) == 1 then
      if hash == ARGV[2] then return {'existing', id} end
      return {'conflict', id}
    end
  end
  redis.call('SET', idem, ARGV[2] .. ' ' .. ARGV[3], 'EX', ARGV[5])
end
redis.call('HSET', KEYS[2], 'spec', ARGV[6], 'status', 'queued', 'createdAt', ARGV[7], 'idempotencyKey', ARGV[8])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
return {'created', ARGV[3]}
`;

const MARK_RUNNING = `
--[[
  queued -> running; no change when the trace is already running or has ended.
  Input:
    KEYS[1] trace record 'tj:trace:<id>'
    ARGV[1] start time (ISO 8601)
  Output:
    the status after the call, or false (nil) when the record does not exist
]]
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return false end
if st == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'running', 'startedAt', ARGV[1])
end
return redis.call('HGET', KEYS[1], 'status')
`;

const FINISH = `
--[[
  Sets the final status unless the trace has ended already, and expires the record after the
  retention period.
  Input:
    KEYS[1] trace record 'tj:trace:<id>'
    ARGV[1] final status (succeeded, partial, failed, cancelled)
    ARGV[2] finish time (ISO 8601)
    ARGV[3] retention (s)
    ARGV[4] error message ('' for none)
  Output:
    the status the trace ends with (the earlier one if it had ended), or false (nil) when the
    record does not exist
]]
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return false end
if st == 'succeeded' or st == 'partial' or st == 'failed' or st == 'cancelled' then
  return st
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'finishedAt', ARGV[2])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[4]) end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return ARGV[1]
`;

const CANCEL = `
--[[
  Cancels a queued trace at once; marks a running one (the caller then tells the schedulers).
  Input:
    KEYS[1] trace record 'tj:trace:<id>'
    ARGV[1] cancel time (ISO 8601)
    ARGV[2] retention (s)
  Output:
    'cancelled'  it was queued and is now cancelled
    'requested'  it is running: cancelRequested is set
    'missing'    no such record
    <status>     it had ended already (succeeded, partial, failed, cancelled)
]]
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 'missing' end
if st == 'queued' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled', 'finishedAt', ARGV[1], 'cancelRequested', '1')
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 'cancelled'
end
if st == 'running' then
  redis.call('HSET', KEYS[1], 'cancelRequested', '1')
  return 'requested'
end
return st
`;

const PUT_RESULT = `
--[[
  Writes a node's uploaded result counts, only while the trace record exists.
  Input:
    KEYS[1] trace record 'tj:trace:<id>'
    ARGV[1] field 'result:<node>'
    ARGV[2] counts (JSON)
  Output:
    1 written, 0 no such record
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

const PUT_PROGRESS = `
--[[
  Records a runner's live progress, only while the trace runs.
  Input:
    KEYS[1] trace record 'tj:trace:<id>'
    ARGV[1] field 'progress:<node>'
    ARGV[2] progress (JSON)
  Output:
    -1 no such record
     1 the trace is cancelled or its cancel was requested (the runner stops)
     0 recorded (or the trace already ended for another reason)
]]
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return -1 end
if st == 'cancelled' or redis.call('HGET', KEYS[1], 'cancelRequested') == '1' then return 1 end
if st == 'running' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 0
`;

export const CANCEL_CHANNEL = 'tj:cancel';

/** Stable hash of a request body: same JSON content, whatever the key order, same hash. */
export function requestHash(value: unknown): string {
  const canonical = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canonical);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as object)
          .sort()
          .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return createHash('sha256').update(JSON.stringify(canonical(value))).digest('base64url');
}

function encodeCursor(score: number, id: string): string {
  return Buffer.from(`${score}:${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { score: number; id: string } | undefined {
  const text = Buffer.from(cursor, 'base64url').toString();
  const m = /^(\d+):([0-9a-f-]{36})$/.exec(text);
  return m ? { score: Number(m[1]), id: m[2]! } : undefined;
}

export class InvalidCursorError extends Error {
  override readonly name = 'InvalidCursorError';
}

export class TraceStore {
  constructor(
    private readonly redis: Redis,
    private readonly retentionSeconds: number,
  ) {}

  private key(id: string): string {
    return `tj:trace:${id}`;
  }

  /**
   * Creates the trace record (status queued) unless `idempotency` names an existing trace:
   * same key and same request hash → that trace; same key, other request → conflict.
   */
  async create(
    id: string,
    spec: TraceSpec,
    idempotency?: { key: string; requestHash: string },
    now = new Date(),
  ): Promise<CreateOutcome> {
    const idemKey = idempotency ? `tj:idem:${requestHash(idempotency.key)}` : 'tj:idem:-';
    const ttl = this.retentionSeconds + 24 * 3600;
    const out = (await evalScript(this.redis, CREATE,
      3,
      idemKey,
      this.key(id),
      'tj:traces',
      idempotency ? '1' : '0',
      idempotency?.requestHash ?? '',
      id,
      String(now.getTime()),
      String(ttl),
      JSON.stringify(spec),
      now.toISOString(),
      idempotency?.key ?? '',
    )) as [string, string];
    return { kind: out[0] as CreateOutcome['kind'], id: out[1] };
  }

  async get(id: string): Promise<TraceRecord | undefined> {
    const h = await this.redis.hgetall(this.key(id));
    return recordOf(id, h);
  }

  async exists(id: string): Promise<boolean> {
    return (await this.redis.exists(this.key(id))) === 1;
  }

  async status(id: string): Promise<TraceStatus | undefined> {
    return ((await this.redis.hget(this.key(id), 'status')) ?? undefined) as TraceStatus | undefined;
  }

  async isCancelRequested(id: string): Promise<boolean> {
    return (await this.redis.hget(this.key(id), 'cancelRequested')) === '1';
  }

  /** queued → running (no-op when already running); returns the status after, undefined if gone. */
  async markRunning(id: string, now = new Date()): Promise<TraceStatus | undefined> {
    const out = (await evalScript(this.redis, MARK_RUNNING, 1, this.key(id), now.toISOString())) as string | null;
    return (out ?? undefined) as TraceStatus | undefined;
  }

  /** Sets the final status unless the trace is already terminal; returns the status it ends with. */
  async finish(id: string, status: TraceStatus, error?: string, now = new Date()): Promise<TraceStatus | undefined> {
    if (!isTerminal(status)) throw new Error(`finish: ${status} is not a final status`);
    const out = (await evalScript(this.redis, FINISH, 1, this.key(id), status, now.toISOString(), String(this.retentionSeconds), error ?? '')) as string | null;
    return (out ?? undefined) as TraceStatus | undefined;
  }

  /** Cancels a queued trace at once; marks a running one for cancellation and tells the schedulers. */
  async requestCancel(id: string, now = new Date()): Promise<CancelOutcome> {
    const out = (await evalScript(this.redis, CANCEL, 1, this.key(id), now.toISOString(), String(this.retentionSeconds))) as string;
    if (out === 'missing') return { kind: 'missing' };
    if (out === 'cancelled') return { kind: 'cancelled' };
    if (out === 'requested') {
      await this.redis.publish(CANCEL_CHANNEL, id);
      return { kind: 'requested' };
    }
    return { kind: 'finished', status: out as TraceStatus };
  }

  /** The per-node plans resolved for this trace (kept so a restarted scheduler reuses them). */
  async setPlans(id: string, plans: readonly NodePlan[]): Promise<void> {
    await this.redis.hset(this.key(id), 'plans', JSON.stringify(plans));
  }

  async plans(id: string): Promise<NodePlan[] | undefined> {
    const raw = await this.redis.hget(this.key(id), 'plans');
    return raw ? (JSON.parse(raw) as NodePlan[]) : undefined;
  }

  /** Ids of traces that are queued or running. */
  async activeIds(): Promise<string[]> {
    const ids = await this.redis.zrange('tj:traces', '0', '-1');
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hget(this.key(id), 'status');
    const res = (await pipe.exec()) ?? [];
    return ids.filter((_, i) => res[i]?.[1] === 'queued' || res[i]?.[1] === 'running');
  }

  async setNodeState(id: string, state: NodeState): Promise<void> {
    await this.redis.hset(this.key(id), `node:${state.node}`, JSON.stringify(state));
  }

  async setNodeStatus(id: string, node: string, status: NodeStatus, extra: Partial<NodeState> = {}): Promise<void> {
    const prior = await this.redis.hget(this.key(id), `node:${node}`);
    const base: NodeState = prior ? (JSON.parse(prior) as NodeState) : { node, status, events: 0, lostEvents: 0 };
    await this.setNodeState(id, { ...base, ...extra, node, status });
  }

  /** Records a node's uploaded result; false when the trace does not exist (any more). */
  async putNodeResult(id: string, node: string, counts: NodeResultCounts): Promise<boolean> {
    const out = await evalScript(this.redis, PUT_RESULT, 1, this.key(id), `result:${node}`, JSON.stringify(counts));
    return out === 1;
  }

  /**
   * Records a runner's live progress (tracingSince, live counts) while the trace runs. Returns
   * 'missing' when the trace does not exist, 'cancel' when the runner should stop, else 'ok'.
   */
  async putNodeProgress(id: string, node: string, progress: NodeProgress, now = new Date()): Promise<'ok' | 'cancel' | 'missing'> {
    const body: StoredProgress = { ...progress, at: now.toISOString() };
    const out = (await evalScript(this.redis, PUT_PROGRESS, 1, this.key(id), `progress:${node}`, JSON.stringify(body))) as number;
    return out === -1 ? 'missing' : out === 1 ? 'cancel' : 'ok';
  }

  async nodeResult(id: string, node: string): Promise<NodeResultCounts | undefined> {
    const raw = await this.redis.hget(this.key(id), `result:${node}`);
    return raw ? (JSON.parse(raw) as NodeResultCounts) : undefined;
  }

  async delete(id: string): Promise<void> {
    await this.redis.multi().del(this.key(id)).zrem('tj:traces', id).exec();
  }

  /** Ids of traces in the index whose record expired; removes them from the index. */
  async pruneIndex(): Promise<string[]> {
    const gone: string[] = [];
    let offset = 0;
    for (;;) {
      const ids = await this.redis.zrange('tj:traces', String(offset), String(offset + 499));
      if (ids.length === 0) break;
      const pipe = this.redis.pipeline();
      for (const id of ids) pipe.exists(this.key(id));
      const res = (await pipe.exec()) ?? [];
      const missing = ids.filter((_, i) => res[i]?.[1] === 0);
      if (missing.length > 0) await this.redis.zrem('tj:traces', ...missing);
      gone.push(...missing);
      offset += ids.length - missing.length;
    }
    return gone;
  }

  /** Newest first, `limit` per page, optionally filtered. */
  async list(opts: { limit: number; cursor?: string; status?: TraceStatus; gadget?: string }): Promise<{ items: TraceRecord[]; nextCursor?: string }> {
    let after: { score: number; id: string } | undefined;
    if (opts.cursor) {
      after = decodeCursor(opts.cursor);
      if (!after) throw new InvalidCursorError('cursor is not one this server gave out');
    }
    const items: TraceRecord[] = [];
    const batch = Math.max(opts.limit * 2, 50);
    let offset = 0;
    let lastSeen: { score: number; id: string } | undefined;
    for (;;) {
      const max = after ? String(after.score) : '+inf';
      const raw = await this.redis.zrevrangebyscore('tj:traces', max, '-inf', 'WITHSCORES', 'LIMIT', offset, batch);
      if (raw.length === 0) return { items };
      offset += raw.length / 2;
      const entries: { id: string; score: number }[] = [];
      for (let i = 0; i < raw.length; i += 2) {
        const id = raw[i]!;
        const score = Number(raw[i + 1]);
        if (after && score === after.score && id >= after.id) continue;
        entries.push({ id, score });
      }
      const pipe = this.redis.pipeline();
      for (const e of entries) pipe.hgetall(this.key(e.id));
      const res = (await pipe.exec()) ?? [];
      for (let i = 0; i < entries.length; i += 1) {
        const e = entries[i]!;
        const rec = recordOf(e.id, (res[i]?.[1] ?? {}) as Record<string, string>);
        if (!rec) continue;
        if (opts.status && rec.status !== opts.status) continue;
        if (opts.gadget && rec.spec.gadget !== opts.gadget) continue;
        if (items.length === opts.limit) {
          return { items, nextCursor: lastSeen ? encodeCursor(lastSeen.score, lastSeen.id) : undefined };
        }
        items.push(rec);
        lastSeen = e;
      }
    }
  }
}

function recordOf(id: string, h: Record<string, string>): TraceRecord | undefined {
  if (!h.spec || !h.status) return undefined;
  const nodes = new Map<string, NodeView>();
  for (const [field, value] of Object.entries(h)) {
    if (field.startsWith('node:')) {
      const state = JSON.parse(value) as NodeState;
      nodes.set(state.node, { ...state, uploaded: false });
    }
  }
  // Live progress: when the node began tracing, and its counts until its result is uploaded.
  for (const [field, value] of Object.entries(h)) {
    if (!field.startsWith('progress:')) continue;
    const node = field.slice('progress:'.length);
    const p = JSON.parse(value) as StoredProgress;
    const base: NodeView = nodes.get(node) ?? { node, status: 'running', events: 0, lostEvents: 0, uploaded: false };
    const live: NodeView = { ...base, tracingSince: base.tracingSince ?? p.tracingSince };
    if (!base.finishedAt) Object.assign(live, { events: p.events, lostEvents: p.lostEvents, progressAt: p.at });
    nodes.set(node, live);
  }
  for (const [field, value] of Object.entries(h)) {
    if (!field.startsWith('result:')) continue;
    const node = field.slice('result:'.length);
    const r = JSON.parse(value) as NodeResultCounts;
    const base: NodeView = nodes.get(node) ?? { node, status: 'running', events: 0, lostEvents: 0, uploaded: false };
    const merged: NodeView = { ...base, events: r.events, lostEvents: r.lostEvents, truncated: r.truncated, uploaded: true };
    if (r.stopReason) merged.stopReason = r.stopReason;
    if (r.error && !merged.error) merged.error = r.error;
    nodes.set(node, merged);
  }
  const rec: TraceRecord = {
    id,
    spec: JSON.parse(h.spec) as TraceSpec,
    status: h.status as TraceStatus,
    createdAt: h.createdAt ?? '',
    cancelRequested: h.cancelRequested === '1',
    nodes: [...nodes.values()].sort((a, b) => a.node.localeCompare(b.node)),
  };
  if (h.startedAt) rec.startedAt = h.startedAt;
  if (h.finishedAt) rec.finishedAt = h.finishedAt;
  if (h.error) rec.error = h.error;
  return rec;
}
