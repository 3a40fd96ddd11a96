/**
 * bpf-native against the real kernel: a small test program on sys_enter_getppid (node's
 * `process.ppid` getter calls getppid(2) each time it is read) emits one 64-byte record per call.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { BpfObject, clocks, openFdCount, possibleCpus } from './index.js';
import type { BpfError, RingBufferReader } from './index.js';
import { cgroupV2Root, kernelTestSkipReason } from '../../test/support/cgroups.ts';
import { splitBatch } from './ring-batch.ts';

const here = import.meta.dirname;
const testObject = join(here, 'test', 'ringbuf_test.bpf.o');
const attachFailObject = join(here, 'test', 'attach_fail_test.bpf.o');
const verifierRejectObject = join(here, 'test', 'verifier_reject_test.bpf.o');
const skip = kernelTestSkipReason();

const RECORD_SIZE = 64;
const COOKIE = 0x1122334455667788n;

before(() => {
  if (skip) return;
  execFileSync('make', ['-s', '-C', join(here, '..'), testObject, attachFailObject, verifierRejectObject], { stdio: 'inherit' });
});

const opened: BpfObject[] = [];
after(() => {
  for (const o of opened) o.close();
});

/** The program's rodata config: { bool filter_by_cgroup; u8 pad[3]; u32 target_tgid; u64 cookie } */
function config(targetTgid: number, cookie = COOKIE, filterByCgroup = false): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(filterByCgroup ? 1 : 0, 0);
  b.writeUInt32LE(targetTgid, 4);
  b.writeBigUInt64LE(cookie, 8);
  return b;
}

function openTestObject(opts: { ringBytes?: number; targetTgid?: number } = {}): BpfObject {
  const obj = BpfObject.open(testObject);
  opened.push(obj);
  obj.setGlobal('config', config(opts.targetTgid ?? process.pid));
  if (opts.ringBytes) obj.setMapMaxEntries('events', opts.ringBytes);
  obj.load();
  obj.attach();
  return obj;
}

function triggerGetppid(times: number): void {
  let sink = 0;
  for (let i = 0; i < times; i++) sink += process.ppid;
  assert.ok(sink > 0);
}

function perCpuSum(buf: Buffer | null): bigint {
  assert.ok(buf, 'per-CPU value present');
  assert.equal(buf.length, possibleCpus() * 8);
  let sum = 0n;
  for (let off = 0; off < buf.length; off += 8) sum += buf.readBigUInt64LE(off);
  return sum;
}

const zeroKey = Buffer.alloc(4);

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for ring-buffer records');
    await sleep(5);
  }
}

function ownCgroupId(): bigint {
  const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'));
  assert.ok(line, 'process has a cgroup v2 path');
  return statSync(join(cgroupV2Root(), line.slice(3)), { bigint: true }).ino;
}

function assertBpfError(fn: () => unknown, expect: Partial<Omit<BpfError, 'message'>> & { message?: RegExp }): BpfError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Error, 'an Error is thrown');
  const e = caught as BpfError;
  const { message, ...fields } = expect;
  for (const [k, v] of Object.entries(fields)) assert.equal(e[k as keyof BpfError], v, `error.${k}`);
  if (message) assert.match(e.message, message);
  assert.equal(typeof e.errno, 'number');
  return e;
}

test('records of real getppid calls reach JS in batches with exact content', { skip }, async () => {
  const ppid = process.ppid; // read before attaching: every read is a getppid(2)
  const obj = openTestObject();
  const records: Buffer[] = [];
  let batches = 0;
  const reader = obj.openRingBuffer('events', (batch, count) => {
    batches++;
    for (const r of splitBatch(batch, count)) records.push(Buffer.from(r));
  });
  const before = clocks().boottime;
  triggerGetppid(10);
  const afterCalls = clocks().boottime;
  await until(() => records.length >= 10);
  await sleep(20);
  reader.drain();
  reader.close();

  assert.equal(records.length, 10);
  assert.ok(batches >= 1 && batches <= 10);
  const comm = readFileSync('/proc/self/comm', 'utf8').trim();
  const cgroupId = ownCgroupId();
  records.forEach((r, i) => {
    assert.equal(r.length, RECORD_SIZE);
    const ts = r.readBigUInt64LE(0);
    assert.ok(ts >= before && ts <= afterCalls, `ts ${ts} within [${before}, ${afterCalls}]`);
    assert.equal(r.readBigUInt64LE(8), cgroupId, 'cgroup id');
    assert.equal(r.readUInt32LE(16), process.pid, 'pid');
    assert.equal(r.readUInt32LE(20), process.pid, 'tid (main thread)');
    assert.equal(r.readUInt32LE(24), ppid, 'ppid');
    assert.equal(r.readUInt32LE(28), process.getuid?.(), 'uid');
    assert.equal(r.subarray(32, 48).toString('latin1').replace(/\0.*$/s, ''), comm.slice(0, 15), 'comm');
    assert.equal(r.readBigUInt64LE(48), BigInt(i), 'seq');
    assert.equal(r.readBigUInt64LE(56), COOKIE, 'cookie from the rodata config');
  });
  assert.equal(perCpuSum(obj.mapLookup('hits', zeroKey)), 10n);
  assert.equal(perCpuSum(obj.mapLookup('drops', zeroKey)), 0n);
  obj.close();
});

test('onBatch is called once for all the records that are ready, not once per record', { skip }, async () => {
  const obj = openTestObject();
  const counts: number[] = [];
  let seen = 0;
  const reader = obj.openRingBuffer('events', (batch, count) => {
    counts.push(count);
    seen += splitBatch(batch, count).length;
  });
  triggerGetppid(1000); // synchronous: all 1000 are in the ring before the loop polls
  await until(() => seen >= 1000);
  assert.deepEqual(counts, [1000]);
  reader.close();
  obj.close();
});

test('a ring fuller than one batch is drained over several loop turns, each batch at most 4 MiB', { skip }, async () => {
  const obj = openTestObject({ ringBytes: 16 << 20 });
  const batchBytes: number[] = [];
  let seen = 0;
  let immediatePending = false;
  let starved = 0;
  const reader = obj.openRingBuffer('events', (batch, count) => {
    batchBytes.push(batch.length);
    seen += count;
    if (immediatePending) starved++; // the previous batch's setImmediate has not run yet
    immediatePending = true;
    setImmediate(() => {
      immediatePending = false;
    });
  });
  const total = 150_000; // 150k × 72 framed bytes ≈ 10.3 MiB
  triggerGetppid(total);
  await until(() => seen >= total, 10_000);
  assert.equal(seen, total);
  assert.equal(perCpuSum(obj.mapLookup('drops', zeroKey)), 0n);
  assert.ok(batchBytes.length >= 3, `several batches (${batchBytes.length})`);
  assert.ok(Math.max(...batchBytes) <= 4 * 1024 * 1024 + 72, `largest batch ${Math.max(...batchBytes)} bytes`);
  assert.equal(starved, 0, 'the event loop ran between batches');
  reader.close();
  obj.close();
});

test('the cgroup filter drops events of cgroups not in cgroup_filter', { skip }, async () => {
  const obj = BpfObject.open(testObject);
  opened.push(obj);
  obj.setGlobal('config', config(process.pid, COOKIE, true));
  obj.load();
  obj.attach();
  let seen = 0;
  const reader = obj.openRingBuffer('events', (_batch, count) => {
    seen += count;
  });
  triggerGetppid(5);
  await sleep(30);
  reader.drain();
  assert.equal(seen, 0, 'no record while our cgroup is not in the filter');
  const key = Buffer.alloc(8);
  key.writeBigUInt64LE(ownCgroupId());
  obj.mapUpdate('cgroup_filter', key, Buffer.from([1]));
  triggerGetppid(3);
  await until(() => seen >= 3);
  assert.equal(reader.drain(), 0);
  assert.equal(seen, 3);
  obj.close();
});

test('map update, lookup and delete round-trip exact values', { skip }, () => {
  const obj = openTestObject();
  const key = Buffer.alloc(4);
  key.writeUInt32LE(7);
  const value = Buffer.alloc(8);
  value.writeBigUInt64LE(0xdeadbeefcafef00dn);
  assert.equal(obj.mapLookup('test_kv', key), null);
  obj.mapUpdate('test_kv', key, value);
  assert.deepEqual(obj.mapLookup('test_kv', key), value);
  const value2 = Buffer.alloc(8);
  value2.writeBigUInt64LE(42n);
  obj.mapUpdate('test_kv', key, value2, 2 /* BPF_EXIST */);
  assert.deepEqual(obj.mapLookup('test_kv', key), value2);
  assertBpfError(() => obj.mapUpdate('test_kv', key, value, 1 /* BPF_NOEXIST */), {
    code: 'EEXIST',
    op: 'bpf_map_update_elem',
    map: 'test_kv',
    object: testObject,
  });
  assert.equal(obj.mapDelete('test_kv', key), true);
  assert.equal(obj.mapDelete('test_kv', key), false);
  assert.equal(obj.mapLookup('test_kv', key), null);

  // per-CPU: one 8-byte slot per possible CPU
  const perCpu = Buffer.alloc(possibleCpus() * 8);
  for (let cpu = 0; cpu < possibleCpus(); cpu++) perCpu.writeBigUInt64LE(BigInt(100 + cpu), cpu * 8);
  obj.mapUpdate('hits', zeroKey, perCpu);
  assert.deepEqual(obj.mapLookup('hits', zeroKey), perCpu);

  assertBpfError(() => obj.mapUpdate('test_kv', Buffer.alloc(8), value), {
    code: 'EINVAL',
    map: 'test_kv',
    message: /key is 8 bytes, the map's key is 4 bytes/,
  });
  assertBpfError(() => obj.mapUpdate('hits', zeroKey, Buffer.alloc(8)), { code: 'EINVAL', map: 'hits', message: /per-CPU/ });
  assertBpfError(() => obj.mapLookup('no_such_map', key), { code: 'ENOENT', map: 'no_such_map', message: /maps: .*test_kv/ });

  const maps = obj.maps();
  assert.deepEqual(
    maps.find((m) => m.name === 'test_kv'),
    { name: 'test_kv', type: 1, keySize: 4, valueSize: 8, maxEntries: 64 },
  );
  assert.deepEqual(
    maps.find((m) => m.name === 'events'),
    { name: 'events', type: 27, keySize: 0, valueSize: 0, maxEntries: 256 * 1024 },
  );
  obj.close();
});

test('a burst larger than the ring buffer counts every lost record in drops and does not hang', { skip }, async () => {
  const ringBytes = 4096;
  const obj = openTestObject({ ringBytes });
  let delivered = 0;
  const reader = obj.openRingBuffer('events', (_batch, count) => {
    delivered += count;
  });
  const burst = 2000;
  triggerGetppid(burst); // synchronous: JS cannot drain meanwhile
  const drops = perCpuSum(obj.mapLookup('drops', zeroKey));
  assert.ok(drops > 0n, 'the kernel counted drops');
  delivered += reader.drain();
  await sleep(20);
  assert.equal(perCpuSum(obj.mapLookup('hits', zeroKey)), BigInt(burst));
  assert.ok(delivered > 0 && delivered <= ringBytes / (RECORD_SIZE + 8));
  assert.equal(BigInt(delivered) + drops, BigInt(burst), 'delivered + dropped = emitted');

  // the reader keeps working after the overflow
  triggerGetppid(3);
  await until(() => delivered >= burst - Number(drops) + 3);
  reader.close();
  obj.close();
});

test('close twice is harmless and a closed object refuses further use', { skip }, () => {
  const obj = openTestObject();
  const reader = obj.openRingBuffer('events', () => {});
  reader.close();
  reader.close();
  obj.close();
  obj.close();
  assert.equal(obj.closed, true);
  assertBpfError(() => obj.mapLookup('test_kv', zeroKey), { code: 'EBADF', message: /closed/ });
  assertBpfError(() => reader.drain(), { code: 'EBADF', map: 'events' });
  // a reader is closed with its object
  const obj2 = openTestObject();
  const reader2 = obj2.openRingBuffer('events', () => {});
  obj2.close();
  assertBpfError(() => reader2.drain(), { code: 'EBADF' });
  reader2.close();
});

test('opening a missing object fails with ENOENT and the path', () => {
  const path = join(here, 'test', 'does-not-exist.bpf.o');
  assertBpfError(() => BpfObject.open(path), {
    code: 'ENOENT',
    errno: 2,
    op: 'bpf_object__open_file',
    object: path,
    message: new RegExp(`'${path.replace(/[.]/g, '\\.')}'.*ENOENT`),
  });
});

test('setGlobal refuses a wrong size, an unknown name and a call after load', { skip }, () => {
  const obj = BpfObject.open(testObject);
  opened.push(obj);
  assertBpfError(() => obj.setGlobal('config', Buffer.alloc(12)), {
    code: 'EINVAL',
    op: 'setGlobal',
    object: testObject,
    message: /'config' is 12 bytes, the variable is 16 bytes/,
  });
  assertBpfError(() => obj.setGlobal('no_such_global', Buffer.alloc(4)), {
    code: 'ENOENT',
    message: /no global variable 'no_such_global' \(globals: .*config/,
  });
  // .data and .bss globals are settable too
  obj.setGlobal('data_marker', Buffer.from([9, 0, 0, 0]));
  obj.setGlobal('seq_counter', Buffer.from([0, 0, 0, 0, 0, 0, 0, 0]));
  assertBpfError(() => obj.setMapMaxEntries('events', 5000), { code: 'EINVAL', map: 'events', message: /power of two/ });
  obj.load();
  assertBpfError(() => obj.setGlobal('config', config(1)), { code: 'EBUSY', message: /before load/ });
  obj.close();
});

test('attach names the program that cannot attach and leaves none attached', { skip }, () => {
  const obj = BpfObject.open(attachFailObject);
  opened.push(obj);
  obj.load();
  const e = assertBpfError(() => obj.attach(), {
    op: 'bpf_program__attach',
    program: 'handle_missing',
    object: attachFailObject,
    message: /handle_missing.*sys_enter_no_such_syscall_tracejob/,
  });
  assert.notEqual(e.code, 'EUNKNOWN');
  triggerGetppid(3);
  assert.deepEqual(obj.mapLookup('present_calls', zeroKey), Buffer.alloc(8), 'handle_present was detached again');
  obj.close();
});

test('a verifier rejection is an error carrying the verifier log', { skip }, () => {
  const obj = BpfObject.open(verifierRejectObject);
  opened.push(obj);
  assertBpfError(() => obj.load(), { op: 'bpf_object__load', code: 'EACCES', message: /handle_unchecked[\s\S]*invalid mem access/ });
  obj.close();
});

test('closing objects and readers returns every file descriptor', { skip }, async () => {
  // warm up once (lazy fds of libuv/libbpf), then measure
  openTestObject().close();
  await tick();
  const baseline = openFdCount();
  for (let i = 0; i < 5; i++) {
    const obj = openTestObject();
    const reader: RingBufferReader = obj.openRingBuffer('events', () => {});
    triggerGetppid(2);
    if (i % 2 === 0) reader.close(); // otherwise closed by obj.close()
    obj.close();
  }
  await tick();
  assert.equal(openFdCount(), baseline);
});

test('a forgotten object releases its file descriptors when garbage-collected', { skip }, async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  await tick();
  const baseline = openFdCount();
  (() => {
    const obj = BpfObject.open(testObject);
    obj.setGlobal('config', config(process.pid));
    obj.load();
    obj.attach();
  })();
  assert.ok(openFdCount() > baseline, 'the object holds fds while alive');
  for (let i = 0; i < 20 && openFdCount() !== baseline; i++) {
    gc();
    await sleep(10);
  }
  assert.equal(openFdCount(), baseline);
});
