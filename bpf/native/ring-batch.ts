/**
 * Splitting a ring-buffer batch handed over by RingBufferReader: `count` records, each framed as
 * [u32 LE length][bytes][pad to 8]. The views share the batch's memory (no copy).
 */

/** Calls `onRecord` with a view of each record's bytes, in order; returns the number of records seen. */
export function forEachRecord(batch: Buffer, count: number, onRecord: (record: Buffer, index: number) => void): number {
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > batch.length) {
      throw new Error(`ring-buffer batch is truncated: record ${i} of ${count} starts at ${offset}, batch is ${batch.length} bytes`);
    }
    const length = batch.readUInt32LE(offset);
    const start = offset + 4;
    const end = start + length;
    if (end > batch.length) {
      throw new Error(`ring-buffer batch is truncated: record ${i} of ${count} needs ${end} bytes, batch is ${batch.length} bytes`);
    }
    onRecord(batch.subarray(start, end), i);
    offset = (end + 7) & ~7;
  }
  return count;
}

/**
 * Calls `onRecord` with a view of each whole record at the start of `chunk` (framed as above; the
 * chunk may end in the middle of a record, e.g. a piece read from a RingBufferSpool's file);
 * returns the bytes taken, up to the end of the last whole record (its padding included).
 */
export function forEachWholeRecord(chunk: Buffer, onRecord: (record: Buffer) => void): number {
  let offset = 0;
  while (offset + 4 <= chunk.length) {
    const start = offset + 4;
    const end = start + chunk.readUInt32LE(offset);
    const next = (end + 7) & ~7;
    if (next > chunk.length) break;
    onRecord(chunk.subarray(start, end));
    offset = next;
  }
  return offset;
}

/** The records of a batch as an array of views. */
export function splitBatch(batch: Buffer, count: number): Buffer[] {
  const records: Buffer[] = [];
  forEachRecord(batch, count, (record) => records.push(record));
  return records;
}
