import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RangeNotSatisfiableError } from '../errors.ts';
import { contentRange, requestedRange } from './byte-ranges.ts';

const TAG = '"v1"';

test('one byte range: from-to, open-ended, suffix; clipped to the size', () => {
  assert.deepEqual(requestedRange({ range: 'bytes=0-99' }, TAG, 1000), { kind: 'part', start: 0, end: 100 });
  assert.deepEqual(requestedRange({ range: 'bytes=900-' }, TAG, 1000), { kind: 'part', start: 900, end: 1000 });
  assert.deepEqual(requestedRange({ range: 'bytes=900-5000' }, TAG, 1000), { kind: 'part', start: 900, end: 1000 });
  assert.deepEqual(requestedRange({ range: 'bytes=-10' }, TAG, 1000), { kind: 'part', start: 990, end: 1000 });
  assert.deepEqual(requestedRange({ range: 'bytes=-5000' }, TAG, 1000), { kind: 'part', start: 0, end: 1000 });
  assert.equal(contentRange({ start: 900, end: 1000 }, 1000), 'bytes 900-999/1000');
});

test('If-Range: the current tag resumes; another tag or a date gets the whole download', () => {
  assert.equal(requestedRange({ range: 'bytes=10-', 'if-range': TAG }, TAG, 1000).kind, 'part');
  assert.equal(requestedRange({ range: 'bytes=10-', 'if-range': '"v0"' }, TAG, 1000).kind, 'whole');
  assert.equal(requestedRange({ range: 'bytes=10-', 'if-range': 'Tue, 01 Dec 2026 10:00:00 GMT' }, TAG, 1000).kind, 'whole');
});

test('what is not one parsable byte range gets the whole download; no size known, the whole download', () => {
  for (const range of ['bytes=0-1,5-9', 'items=0-1', 'bytes=', 'bytes=-', 'bytes=9-1', 'bytes=abc', 'bytes=99999999999999999999-']) {
    assert.equal(requestedRange({ range }, TAG, 1000).kind, 'whole', range);
  }
  assert.equal(requestedRange({ range: ['bytes=0-1', 'bytes=2-3'] }, TAG, 1000).kind, 'whole');
  assert.equal(requestedRange({ range: 'bytes=10-' }, TAG, undefined).kind, 'whole');
  assert.equal(requestedRange({}, TAG, 1000).kind, 'whole');
});

test('a range starting at or past the end is 416 with the size', () => {
  for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0']) {
    assert.throws(
      () => requestedRange({ range }, TAG, 1000),
      (err: unknown) => err instanceof RangeNotSatisfiableError && err.size === 1000 && err.field === 'Range',
      range,
    );
  }
});
