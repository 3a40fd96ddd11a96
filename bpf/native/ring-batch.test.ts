import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forEachRecord, splitBatch } from './ring-batch.ts';

function frame(records: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const r of records) {
    const head = Buffer.alloc(4);
    head.writeUInt32LE(r.length);
    const pad = Buffer.alloc((8 - ((4 + r.length) % 8)) % 8);
    parts.push(head, r, pad);
  }
  return Buffer.concat(parts);
}

test('splitBatch returns each framed record with its exact bytes, whatever its length', () => {
  const records = [Buffer.from('a'), Buffer.alloc(0), Buffer.from('0123456789abcdef'), Buffer.from([1, 2, 3, 4])];
  const out = splitBatch(frame(records), records.length);
  assert.deepEqual(
    out.map((b) => [...b]),
    records.map((b) => [...b]),
  );
});

test('forEachRecord refuses a truncated batch instead of inventing records', () => {
  const batch = frame([Buffer.from('abcdefgh'), Buffer.from('ijkl')]);
  assert.throws(() => forEachRecord(batch.subarray(0, 14), 2, () => {}), /truncated: record 1 of 2/);
  assert.throws(() => forEachRecord(batch, 3, () => {}), /truncated: record 2 of 3/);
});
