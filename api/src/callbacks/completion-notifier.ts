/**
 * Delivers a notice when a trace ends (a completion callback, a Slack follow-up), durably:
 * pending notices live in a Redis sorted set scored by when they are next due, so a restart or a
 * second API replica picks them up. Each tick takes the due notices; a notice whose trace has not
 * ended is looked at again after `pollMs`; one whose trace ended is claimed for `leaseMs` (one
 * replica delivers it), then removed on success or rescheduled with exponential backoff, and
 * dropped — logged as an error and kept in `<key>:failed` — after `maxAttempts`.
 */
import type { Redis } from 'ioredis';
import { isTerminal } from '../../../contracts/index.ts';
import type { TraceRecord } from '../../../state/src/trace-store.ts';
import type { TraceReader } from '../watch/trace-progress.ts';
import { evalScript } from '../../../state/src/redis-script.ts';

export interface PendingNotice {
  traceId: string;
  url: string;
  /** Deliverer-specific data (e.g. the Slack channel's wording). */
  meta?: Record<string, unknown>;
}

export type DeliveryResult = { ok: true } | { ok: false; retryable: boolean; error: string };

export interface NotifierLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface CompletionNotifierOptions {
  redis: Redis;
  traces: TraceReader;
  /** Redis key of the pending set, e.g. `tj:notify:callback`. */
  key: string;
  deliver(notice: PendingNotice, trace: TraceRecord, attempt: number): Promise<DeliveryResult>;
  log: NotifierLog;
  pollMs?: number;
  maxAttempts?: number;
  retryBaseMs?: number;
  leaseMs?: number;
}

const CLAIM = `
--[[
  Claims a due notice for one delivery attempt: moves its score to the end of the lease if it is
  still due, so another API replica does not deliver it too.
  Input:
    KEYS[1] pending notices (sorted set, score: when due, ms)
    ARGV[1] member (the notice)
    ARGV[2] now (ms)
    ARGV[3] end of the lease (ms)
  Output:
    1 claimed, 0 not due (or gone, or claimed by another replica)
]]
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s or tonumber(s) > tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
`;

export class CompletionNotifier {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = true;
  private readonly inflight = new Set<Promise<void>>();
  private readonly pollMs: number;
  private readonly maxAttempts: number;
  private readonly retryBaseMs: number;
  private readonly leaseMs: number;

  constructor(private readonly opts: CompletionNotifierOptions) {
    this.pollMs = opts.pollMs ?? 1000;
    this.maxAttempts = opts.maxAttempts ?? 6;
    this.retryBaseMs = opts.retryBaseMs ?? 2000;
    this.leaseMs = opts.leaseMs ?? 60_000;
  }

  /** Adds a notice, due at once. */
  async add(notice: PendingNotice): Promise<void> {
    await this.opts.redis.zadd(this.opts.key, Date.now(), JSON.stringify(notice));
    this.kick();
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops ticking and waits for deliveries in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.allSettled([...this.inflight]);
  }

  private kick(): void {
    if (!this.stopped && !this.running) this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  /** One pass over the due notices (exposed for tests). */
  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const { redis, key } = this.opts;
    try {
      const now = Date.now();
      const due = await redis.zrangebyscore(key, '-inf', String(now), 'LIMIT', 0, 200);
      for (const member of due) {
        let notice: PendingNotice;
        try {
          notice = JSON.parse(member) as PendingNotice;
        } catch {
          await redis.zrem(key, member);
          continue;
        }
        const trace = await this.opts.traces.get(notice.traceId);
        if (!trace) {
          await redis.zrem(key, member);
          this.opts.log.warn({ traceId: notice.traceId }, 'trace gone before it ended; its notice is dropped');
          continue;
        }
        if (!isTerminal(trace.status)) {
          await redis.zadd(key, 'XX', now + this.pollMs, member);
          continue;
        }
        const claimed = (await evalScript(redis, CLAIM, 1, key, member, String(now), String(now + this.leaseMs))) === 1;
        if (!claimed) continue;
        const p = this.deliverOnce(member, notice, trace).finally(() => this.inflight.delete(p));
        this.inflight.add(p);
      }
    } catch (err) {
      this.opts.log.warn({ err }, 'completion notifier pass failed; retrying');
    } finally {
      this.running = false;
      this.schedule(this.pollMs);
    }
  }

  private async deliverOnce(member: string, notice: PendingNotice, trace: TraceRecord): Promise<void> {
    const { redis, key, log } = this.opts;
    const attemptsKey = `${key}:attempts`;
    const attempt = Number(await redis.hincrby(attemptsKey, member, 1));
    let result: DeliveryResult;
    try {
      result = await this.opts.deliver(notice, trace, attempt);
    } catch (err) {
      result = { ok: false, retryable: true, error: (err as Error).message };
    }
    if (result.ok) {
      await redis.multi().zrem(key, member).hdel(attemptsKey, member).exec();
      log.info({ traceId: notice.traceId, attempt }, 'trace end notice delivered');
      return;
    }
    if (!result.retryable || attempt >= this.maxAttempts) {
      await redis
        .multi()
        .zrem(key, member)
        .hdel(attemptsKey, member)
        .lpush(`${key}:failed`, JSON.stringify({ ...notice, attempts: attempt, error: result.error, at: new Date().toISOString() }))
        .ltrim(`${key}:failed`, 0, 999)
        .exec();
      log.error({ traceId: notice.traceId, url: notice.url, attempt, error: result.error }, 'trace end notice could not be delivered; giving up');
      return;
    }
    const delay = this.retryBaseMs * 2 ** (attempt - 1);
    await redis.zadd(key, 'XX', Date.now() + delay, member);
    log.warn({ traceId: notice.traceId, attempt, error: result.error, retryInMs: delay }, 'trace end notice failed; will retry');
    this.schedule(Math.min(delay, this.pollMs));
  }
}
