import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSeconds, hasDurationUnits, parseDuration } from './duration.ts';

const seconds = (text: string, rules?: Parameters<typeof parseDuration>[1]) => {
  const r = parseDuration(text, rules);
  return 'seconds' in r ? r.seconds : r.error;
};

test('the units and their sums', () => {
  assert.equal(seconds('30s'), 30);
  assert.equal(seconds('2m'), 120);
  assert.equal(seconds('1h'), 3600);
  assert.equal(seconds('1m30s'), 90);
  assert.equal(seconds(' 45 '), 45);
  assert.equal(seconds('500ms'), 0.5);
  assert.equal(seconds('1.5s'), 1.5);
});

test('whole seconds refuse fractions and milliseconds, saying the form', () => {
  assert.equal(seconds('1m30s', { wholeSeconds: true }), 90);
  for (const bad of ['1.5m', '500ms', '2.5']) assert.match(seconds(bad, { wholeSeconds: true }) as string, /is not a duration like 30s, 2m/, bad);
});

test('a required unit refuses a bare number and says how to write it', () => {
  assert.match(seconds('30', { unitRequired: true }) as string, /has no unit; write 30s/);
  assert.equal(seconds('30s', { unitRequired: true }), 30);
});

test('nothing, zero, negatives and words are refused', () => {
  for (const bad of ['', '0', '0s', '-5s', '-1', 'ten', '5x', 's']) {
    assert.equal(typeof seconds(bad), 'string', bad);
  }
  assert.match(seconds('0s') as string, /more than 0 seconds/);
});

test('formatSeconds writes what parseDuration reads', () => {
  for (const n of [1, 30, 59, 60, 75, 3600, 3661, 7322]) assert.equal(seconds(formatSeconds(n)), n);
  assert.equal(formatSeconds(75), '1m15s');
});

test('hasDurationUnits tells a duration word from other words', () => {
  assert.equal(hasDurationUnits('0s'), true);
  assert.equal(hasDurationUnits('1m30s', { wholeSeconds: true }), true);
  assert.equal(hasDurationUnits('500ms', { wholeSeconds: true }), false);
  for (const word of ['30', 'app=web', 'ten', '']) assert.equal(hasDurationUnits(word), false, word);
});
