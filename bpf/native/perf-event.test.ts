/**
 * bpf-native's perf-event attach and map iteration against the real kernel: a SEC("perf_event")
 * program on one CPU-clock event per CPU counts the samples that hit this process.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { BpfObject, possibleCpus } from './index.js';
import type { BpfError } from './index.js';
import { kernelTestSkipReason } from '../../test/support/cgroups.ts';

const here = import.meta.dirname;
const perfObject = join(here, 'test', 'perf_event_test.bpf.o');
const ringObject = join(here, 'test', 'ringbuf_test.bpf.o');
const skip = kernelTestSkipReason();

before(() => {
  if (skip) return;
  execFileSync('make', ['-s', '-C', join(here, '..'), perfObject, ringObject], { stdio: 'inherit' });
});

const opened: BpfObject[] = [];
after(() => {
  for (const o of opened) o.close();
});

function loadPerfObject(): BpfObject {
  const obj = BpfObject.open(perfObject);
  opened.push(obj);
  const tgid = Buffer.alloc(4);
  tgid.writeUInt32LE(process.pid);
  obj.setGlobal('target_tgid', tgid);
  obj.load();
  return obj;
}

function burn(ms: number): void {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  assert.ok(x > 0);
}

function samplesOf(obj: BpfObject): number {
  const { count, values } = obj.mapEntries('samples_by_cpu');
  let n = 0;
  for (let i = 0; i < count; i += 1) n += Number(values.readBigUInt64LE(i * 8));
  return n;
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as BpfError).code;
  }
  return 'no error';
}

test('attachPerfEvent samples every CPU; detach stops the samples', { skip }, () => {
  const obj = loadPerfObject();
  obj.attach(); // the tracepoint program; the perf-event one is left for attachPerfEvent
  const cpus = obj.attachPerfEvent('count_sample', { frequencyHz: 999 });
  assert.ok(cpus >= 1 && cpus <= possibleCpus(), `attached on ${cpus} CPU(s)`);
  burn(300);
  const seen = samplesOf(obj);
  assert.ok(seen > 0, `this process was sampled (${seen} samples)`);
  obj.detach();
  const stopped = samplesOf(obj);
  burn(200);
  assert.equal(samplesOf(obj), stopped, 'no sample after detach');
});

test('attachPerfEvent refuses what it cannot attach, with a code', { skip }, () => {
  const unloaded = BpfObject.open(perfObject);
  opened.push(unloaded);
  assert.equal(code(() => unloaded.attachPerfEvent('count_sample', { frequencyHz: 49 })), 'EINVAL', 'before load');
  const obj = loadPerfObject();
  assert.equal(code(() => obj.attachPerfEvent('nope', { frequencyHz: 49 })), 'ENOENT');
  assert.equal(code(() => obj.attachPerfEvent('not_a_perf_program', { frequencyHz: 49 })), 'EINVAL');
  assert.equal(code(() => obj.attachPerfEvent('count_sample', { frequencyHz: 0 })), 'EINVAL');
  assert.equal(code(() => obj.attachPerfEvent('count_sample', { frequencyHz: 1.5 })), 'EINVAL');
  obj.close();
  assert.equal(code(() => obj.attachPerfEvent('count_sample', { frequencyHz: 49 })), 'EBADF');
});

test('mapEntries reads every entry of a hash map (batched) and of a per-CPU array (key by key)', { skip }, () => {
  const obj = BpfObject.open(ringObject);
  opened.push(obj);
  obj.setGlobal('config', Buffer.alloc(16));
  obj.load();
  const value = Buffer.alloc(8);
  for (let k = 0; k < 50; k += 1) {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(k);
    value.writeBigUInt64LE(BigInt(k * 10));
    obj.mapUpdate('test_kv', key, value);
  }
  const kv = obj.mapEntries('test_kv');
  assert.equal(kv.count, 50);
  assert.equal(kv.keys.length, 50 * 4);
  const seen = new Map<number, number>();
  for (let i = 0; i < kv.count; i += 1) seen.set(kv.keys.readUInt32LE(i * 4), Number(kv.values.readBigUInt64LE(i * 8)));
  for (let k = 0; k < 50; k += 1) assert.equal(seen.get(k), k * 10);
  const hits = obj.mapEntries('hits');
  assert.equal(hits.count, 1);
  assert.equal(hits.values.length, possibleCpus() * 8, 'per-CPU values as mapLookup lays them out');
  assert.equal(code(() => obj.mapEntries('events')), 'EINVAL', 'a ring buffer is read with openRingBuffer');
  assert.equal(code(() => obj.mapEntries('nope')), 'ENOENT');
});
