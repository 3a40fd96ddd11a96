/**
 * When a schedule runs: `every` (a fixed interval such as `30s`, `5m`, `1h30m`) or `cron` (five
 * fields, or six with seconds first) in an optional IANA `timeZone`. Validated here, as a pure
 * function, into the repeat options of a BullMQ job scheduler; nothing shorter than the server's
 * minimum interval (SCHEDULE_MIN_INTERVAL) is accepted, for cron too (its next runs are checked).
 */
import { CronExpressionParser } from 'cron-parser';
import { InvalidError } from '../errors.ts';

export type ScheduleTiming = { every: string; everyMs: number } | { cron: string; timeZone?: string };

/** BullMQ's RepeatOptions subset a job scheduler is upserted with. */
export type JobSchedulerRepeat = { every: number } | { pattern: string; tz?: string };

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const MAX_INTERVAL_MS = 366 * UNIT_MS.d!;
/** Upcoming cron runs compared with the minimum interval (enough to see the shortest gap of any pattern within an hour). */
const CRON_RUNS_CHECKED = 61;

/** Milliseconds of `30s`, `5m`, `1h30m`, `2d`; undefined when the text is not such an interval. */
export function parseIntervalMs(text: string): number | undefined {
  const t = text.trim();
  if (!/^(\d{1,6}[smhd])+$/.test(t)) return undefined;
  let ms = 0;
  for (const m of t.matchAll(/(\d+)([smhd])/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms > 0 ? ms : undefined;
}

export function formatInterval(ms: number): string {
  let rest = Math.floor(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.join('') || '0s';
}

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export interface TimingInput {
  every?: string;
  cron?: string;
  timeZone?: string;
}

/** Validates `every` | `cron` (+ `timeZone`); throws InvalidError naming the field. */
export function parseScheduleTiming(input: TimingInput, minIntervalMs: number, now = new Date()): ScheduleTiming {
  const { every, cron, timeZone } = input;
  if (every !== undefined && cron !== undefined) throw new InvalidError('every', 'every: give every or cron, not both');
  if (every === undefined && cron === undefined) throw new InvalidError('every', 'every: required (or cron), e.g. "every": "30m" or "cron": "*/5 * * * *"');
  if (timeZone !== undefined && !isTimeZone(timeZone)) throw new InvalidError('timeZone', `timeZone: ${JSON.stringify(timeZone)} is not an IANA time zone such as Europe/Paris`);
  const min = formatInterval(minIntervalMs);
  if (every !== undefined) {
    if (timeZone !== undefined) throw new InvalidError('timeZone', 'timeZone: applies to cron schedules only');
    const everyMs = parseIntervalMs(every);
    if (everyMs === undefined) throw new InvalidError('every', `every: ${JSON.stringify(every)} is not an interval like 30s, 5m, 1h or 1h30m`);
    if (everyMs < minIntervalMs) throw new InvalidError('every', `every: ${every} is shorter than this server's minimum of ${min} (SCHEDULE_MIN_INTERVAL)`);
    if (everyMs > MAX_INTERVAL_MS) throw new InvalidError('every', `every: ${every} is longer than a year`);
    return { every, everyMs };
  }
  const pattern = cron!.trim();
  const fields = pattern.split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) throw new InvalidError('cron', `cron: ${JSON.stringify(cron)} must have 5 fields (minute hour day month weekday) or 6 (seconds first)`);
  let runs: number[];
  try {
    const expr = CronExpressionParser.parse(pattern, { currentDate: now, ...(timeZone ? { tz: timeZone } : {}) });
    runs = expr.take(CRON_RUNS_CHECKED).map((d) => d.getTime());
  } catch (err) {
    throw new InvalidError('cron', `cron: ${JSON.stringify(cron)} is not a cron pattern: ${(err as Error).message}`);
  }
  if (runs.length === 0) throw new InvalidError('cron', `cron: ${JSON.stringify(cron)} never runs`);
  for (let i = 1; i < runs.length; i += 1) {
    const gap = runs[i]! - runs[i - 1]!;
    if (gap < minIntervalMs) {
      throw new InvalidError('cron', `cron: ${JSON.stringify(cron)} runs ${formatInterval(gap)} apart, shorter than this server's minimum of ${min} (SCHEDULE_MIN_INTERVAL)`);
    }
  }
  return timeZone !== undefined ? { cron: pattern, timeZone } : { cron: pattern };
}

export function jobSchedulerRepeat(timing: ScheduleTiming): JobSchedulerRepeat {
  if ('every' in timing) return { every: timing.everyMs };
  return timing.timeZone ? { pattern: timing.cron, tz: timing.timeZone } : { pattern: timing.cron };
}
