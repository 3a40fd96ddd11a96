import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LossWatch } from './loss-watch.ts';

test('an episode of drops is reported once when it starts and once when it stops, with its cost', () => {
  const watch = new LossWatch();
  assert.equal(watch.observe(0, 1000), undefined);
  assert.deepEqual(watch.observe(120, 2000), { kind: 'started', lostEvents: 120, lostInEpisode: 120 });
  assert.equal(watch.observe(500, 3000), undefined, 'still dropping: no new line');
  assert.deepEqual(watch.observe(500, 4000), { kind: 'stopped', lostEvents: 500, lostInEpisode: 500, episodeMs: 2000 });
  assert.equal(watch.observe(500, 5000), undefined);
  assert.deepEqual(watch.observe(510, 6000), { kind: 'started', lostEvents: 510, lostInEpisode: 10 });
  assert.deepEqual(watch.end(530, 6500), [{ kind: 'stopped', lostEvents: 530, lostInEpisode: 30, episodeMs: 500 }]);
});

test('drops first seen in the final count open and close an episode at the end', () => {
  const watch = new LossWatch();
  assert.equal(watch.observe(0, 1000), undefined);
  assert.deepEqual(watch.end(7, 1500), [
    { kind: 'started', lostEvents: 7, lostInEpisode: 7 },
    { kind: 'stopped', lostEvents: 7, lostInEpisode: 7, episodeMs: 0 },
  ]);
  assert.deepEqual(new LossWatch().end(0, 10), [], 'nothing lost: nothing reported');
});
