/**
 * RingBufferSpool against the real kernel: the test program of bpf-object.test.ts (one 64-byte
 * record per getppid(2) of this process, `process.ppid` calls it) drained by the native thread into
 * a file, read back with forEachWholeRecord.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BpfObject, openFdCount } from './index.js';
import { kernelTestSkipReason } from '../../test/support/cgroups.ts';
import { forEachWholeRecord } from './ring-batch.ts';

const here = import.meta.dirname;
const testObject = join(here, 'test', 'ringbuf_test.bpf.o');
const skip = kernelTestSkipReason();
const FRAMED = 72; // [u32 length][64 bytes] padded to 8
let dir: string;
const opened: BpfObject[] = [];

before(() => {
  if (skip) return;
  execFileSync('make', ['-s', '-C', join(here, '..'), testObject], { stdio: 'inherit' });
  dir = mkdtempSync(join(tmpdir(), 'tracejob-spool-'));
});
after(() => {
  for (const o of opened) o.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The test program, attached, recording this process's getppid calls. */
function openTestObject(): BpfObject {
  const obj = BpfObject.open(testObject);
  opened.push(obj);
  const config = Buffer.alloc(16);
  config.writeUInt32LE(process.pid, 4);
  obj.setGlobal('config', config);
  obj.load();
  obj.attach();
  return obj;
}

function getppid(times: number): void {
  let sink = 0;
  for (let i = 0; i < times; i++) sink += process.ppid;
  assert.ok(sink > 0);
}

function seqs(path: string): bigint[] {
  const out: bigint[] = [];
  const used = forEachWholeRecord(readFileSync(path), (r) => out.push(r.readBigUInt64LE(48)));
  assert.equal(used, readFileSync(path).length, 'the file ends at a record boundary');
  return out;
}

test('every record reaches the file in order, framed; flush drains now; close gives the final count', { skip }, () => {
  const obj = openTestObject();
  const path = join(dir, 'all');
  const fd = openSync(path, 'w+');
  const spool = obj.spoolRingBuffer('events', fd, { flushIntervalMs: 1000 });
  getppid(1000);
  const flushed = spool.flush();
  assert.equal(flushed.records, 1000);
  assert.equal(flushed.bytes, 1000 * FRAMED);
  assert.deepEqual(seqs(path), Array.from({ length: 1000 }, (_, i) => BigInt(i)));
  getppid(5);
  obj.detach();
  const final = spool.close();
  assert.deepEqual({ records: final.records, overCap: final.overCap, unwritten: final.unwritten }, { records: 1005, overCap: 0, unwritten: 0 });
  assert.deepEqual(spool.close(), final, 'close twice: the same final stats');
  assert.throws(() => spool.flush(), (e: Error & { code?: string }) => e.code === 'EBADF');
  closeSync(fd);
});

test('the thread writes records out by itself within the flush interval', { skip }, async () => {
  const obj = openTestObject();
  const path = join(dir, 'timed');
  const fd = openSync(path, 'w+');
  const spool = obj.spoolRingBuffer('events', fd, { flushIntervalMs: 5 });
  getppid(10);
  const deadline = Date.now() + 10_000;
  while (spool.stats().records < 10) {
    assert.ok(Date.now() < deadline, 'the spool thread wrote the records out');
    await sleep(5);
  }
  assert.deepEqual(seqs(path), Array.from({ length: 10 }, (_, i) => BigInt(i)));
  spool.close();
  closeSync(fd);
});

test('records beyond maxRecords are counted, not written', { skip }, () => {
  const obj = openTestObject();
  const fd = openSync(join(dir, 'capped'), 'w+');
  const spool = obj.spoolRingBuffer('events', fd, { maxRecords: 100 });
  getppid(250);
  const stats = spool.close();
  assert.equal(stats.records, 100);
  assert.equal(stats.overCap, 150);
  closeSync(fd);
});

test('bad options are refused naming them; closing the object stops its spools and frees every fd', { skip }, () => {
  const baseline = openFdCount();
  const obj = openTestObject();
  const fd = openSync(join(dir, 'bad'), 'w+');
  assert.throws(() => obj.spoolRingBuffer('events', fd, { flushIntervalMs: 0 }), /flushIntervalMs/);
  assert.throws(() => obj.spoolRingBuffer('nope', fd), (e: Error & { code?: string }) => e.code === 'ENOENT');
  assert.throws(() => obj.spoolRingBuffer('hits', fd), /not a BPF_MAP_TYPE_RINGBUF/);
  const spool = obj.spoolRingBuffer('events', fd);
  getppid(3);
  obj.close();
  assert.equal(spool.stats().records, 3, 'the last drain ran when the object closed');
  closeSync(fd);
  assert.equal(openFdCount(), baseline);
});
