import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidError } from '../errors.ts';
import { formatInterval, jobSchedulerRepeat, parseIntervalMs, parseScheduleTiming } from './schedule-timing.ts';

const MIN = 60_000;

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof InvalidError) return err.field;
    throw err;
  }
  return undefined;
}

test('intervals: 30s, 5m, 1h30m, 2d; anything else is refused', () => {
  assert.equal(parseIntervalMs('30s'), 30_000);
  assert.equal(parseIntervalMs('1h30m'), 5_400_000);
  assert.equal(parseIntervalMs('2d'), 172_800_000);
  for (const bad of ['', '30', '1.5m', '-1m', '0s', '5 m', '1w']) assert.equal(parseIntervalMs(bad), undefined, bad);
  assert.equal(formatInterval(5_400_000), '1h30m');
  assert.equal(formatInterval(1000), '1s');
});

test('every: at least the minimum interval, becomes a BullMQ `every` in ms', () => {
  const t = parseScheduleTiming({ every: '30m' }, MIN);
  assert.deepEqual(t, { every: '30m', everyMs: 1_800_000 });
  assert.deepEqual(jobSchedulerRepeat(t), { every: 1_800_000 });
  assert.deepEqual(parseScheduleTiming({ every: '2s' }, 1000), { every: '2s', everyMs: 2000 });
  assert.throws(() => parseScheduleTiming({ every: '30s' }, MIN), /every: 30s is shorter than this server's minimum of 1m \(SCHEDULE_MIN_INTERVAL\)/);
  assert.equal(fieldOf(() => parseScheduleTiming({ every: 'soon' }, MIN)), 'every');
  assert.equal(fieldOf(() => parseScheduleTiming({ every: '400d' }, MIN)), 'every');
  assert.equal(fieldOf(() => parseScheduleTiming({ every: '1h', timeZone: 'Europe/Paris' }, MIN)), 'timeZone');
});

test('cron: valid patterns in a time zone; too frequent, malformed, or a bad zone are refused naming the field', () => {
  const t = parseScheduleTiming({ cron: '*/5 * * * *', timeZone: 'Europe/Paris' }, MIN);
  assert.deepEqual(t, { cron: '*/5 * * * *', timeZone: 'Europe/Paris' });
  assert.deepEqual(jobSchedulerRepeat(t), { pattern: '*/5 * * * *', tz: 'Europe/Paris' });
  assert.deepEqual(jobSchedulerRepeat(parseScheduleTiming({ cron: '0 3 * * 1' }, MIN)), { pattern: '0 3 * * 1' });
  // every minute passes a 1m minimum; every 30 seconds (six fields) does not
  assert.ok(parseScheduleTiming({ cron: '* * * * *' }, MIN));
  assert.throws(() => parseScheduleTiming({ cron: '*/30 * * * * *' }, MIN), /cron: .* runs 30s apart/);
  // irregular patterns: the shortest gap counts (minutes 0 and 1 of each hour)
  assert.throws(() => parseScheduleTiming({ cron: '0,1 * * * *' }, 5 * MIN), /runs 1m apart/);
  assert.equal(fieldOf(() => parseScheduleTiming({ cron: '61 * * * *' }, MIN)), 'cron');
  assert.equal(fieldOf(() => parseScheduleTiming({ cron: 'every day' }, MIN)), 'cron');
  assert.equal(fieldOf(() => parseScheduleTiming({ cron: '* * * *' }, MIN)), 'cron');
  assert.equal(fieldOf(() => parseScheduleTiming({ cron: '0 3 * * *', timeZone: 'Mars/Olympus' }, MIN)), 'timeZone');
});

test('exactly one of every and cron', () => {
  assert.equal(fieldOf(() => parseScheduleTiming({}, MIN)), 'every');
  assert.equal(fieldOf(() => parseScheduleTiming({ every: '1h', cron: '0 * * * *' }, MIN)), 'every');
});
