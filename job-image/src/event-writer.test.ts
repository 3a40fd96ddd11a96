import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { EventWriter } from './event-writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'tracejob-writer-'));
const lines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { n: number });

test('events reach the file within the flush interval, before close', async () => {
  const path = join(dir, 'a.ndjson');
  const w = new EventWriter(path, { flushIntervalMs: 50 });
  for (let n = 0; n < 100; n += 1) w.append({ n });
  assert.equal(readFileSync(path, 'utf8'), '', 'buffered, not written per event');
  await sleep(200);
  assert.deepEqual(lines(path).map((e) => e.n), [...Array(100).keys()]);
  w.append({ n: 100 });
  w.close();
  assert.equal(lines(path).length, 101, 'close flushes the rest');
  w.close();
});

test('the byte cap refuses the line that would cross it and marks the writer full', () => {
  const path = join(dir, 'b.ndjson');
  const w = new EventWriter(path, { maxBytes: 30 });
  assert.equal(w.append({ n: 1 }), true); // {"n":1}\n = 8 bytes
  assert.equal(w.append({ n: 2 }), true);
  assert.equal(w.append({ n: 3 }), true);
  assert.equal(w.append({ n: 4 }), false);
  assert.equal(w.full, true);
  w.close();
  assert.equal(readFileSync(path).length, 24);
  assert.equal(w.lines, 3);
});

test('a full buffer is written early', () => {
  const path = join(dir, 'c.ndjson');
  const w = new EventWriter(path, { highWaterBytes: 100, flushIntervalMs: 60_000 });
  for (let n = 0; n < 20; n += 1) w.append({ n });
  assert.ok(lines(path).length >= 10);
  w.close();
});

test('a failing write (disk full) is reported once, the writer refuses further events and says how many were lost', () => {
  const errors: Error[] = [];
  const w = new EventWriter('/dev/full', { onWriteError: (err) => errors.push(err) });
  assert.equal(w.append({ n: 1 }), true);
  assert.equal(w.append({ n: 2 }), true);
  w.flush();
  assert.equal(errors.length, 1);
  assert.match(errors[0]!.message, /ENOSPC/);
  assert.equal(w.unwrittenLines, 2);
  assert.equal(w.append({ n: 3 }), false);
  w.close();
  assert.equal(errors.length, 1, 'reported once');
});
