import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { cgroupV2Root, createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../../test/support/cgroups.ts';
import { buildGadgetObject, runInCgroup, traceDuring } from '../../src/gadget-test-fixture.ts';
import { validateParams } from '../index.ts';
import { decodeOomkill, oomkillGadget, type OomkillEvent } from './oomkill.ts';

const ctx = { bootToWallOffsetNs: 0n };
const LIMIT_BYTES = 32 * 1024 * 1024;

describe('oomkill decoder', () => {
  test('decodes a synthetic record (built by hand as oomkill.bpf.c lays it out)', () => {
    const rec = Buffer.alloc(104);
    rec.writeBigUInt64LE(123n, 8);
    rec.writeUInt32LE(700, 16);
    rec.writeUInt32LE(701, 20);
    rec.writeUInt32LE(1, 24);
    rec.write('java', 32);
    rec.writeBigUInt64LE(9000n, 48);
    rec.writeBigUInt64LE(100n, 56);
    rec.writeBigUInt64LE(20n, 64);
    rec.writeBigUInt64LE(3n, 72);
    rec.writeUInt32LE(702, 80);
    rec.writeInt16LE(-500, 84);
    rec.write('alloc', 88);
    const e = decodeOomkill(rec, ctx);
    assert.deepEqual(
      [e.pid, e.tid, e.comm, e.cgroupId, e.totalVmPages, e.rssPages, e.anonRssPages, e.fileRssPages, e.shmemRssPages, e.oomScoreAdj, e.triggerPid, e.triggerComm],
      [700, 701, 'java', 123, 9000, 123, 100, 20, 3, -500, 702, 'alloc'],
    );
  });

  test('config and params: none accepted', () => {
    assert.deepEqual([...oomkillGadget.encodeConfig({}, true)], [1]);
    assert.equal(validateParams('oomkill', { x: 1 }).errors[0]?.field, 'x');
  });
});

/**
 * A memory limit for a test cgroup's processes: on cgroup v2 with the memory controller available,
 * memory.max on the test cgroup itself; on a hybrid machine whose memory controller is on v1 (as
 * here: /sys/fs/cgroup/unified offers only hugetlb), a v1 memory cgroup the process also joins.
 * Either way the OOM kill stays inside the test's cgroup.
 */
interface MemoryLimit {
  /** Shell commands that put `$$` under the limit. */
  enter: string;
  cleanup(): Promise<void>;
}

function memoryLimitSkipReason(): string | undefined {
  const root = cgroupV2Root();
  const v2 = readFileSync(join(root, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('memory');
  if (v2) return undefined;
  if (existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes')) return undefined;
  return 'no memory controller: neither in the cgroup v2 root subtree_control nor a cgroup v1 memory hierarchy';
}

function limitMemory(cg: TestCgroup, name: string): MemoryLimit {
  const root = cgroupV2Root();
  const v2 = readFileSync(join(root, 'cgroup.subtree_control'), 'utf8').split(/\s+/).includes('memory');
  if (v2) {
    writeFileSync(join(dirname(cg.path), 'cgroup.subtree_control'), '+memory');
    writeFileSync(join(cg.path, 'memory.max'), String(LIMIT_BYTES));
    writeFileSync(join(cg.path, 'memory.swap.max'), '0');
    return { enter: 'true', cleanup: async () => {} };
  }
  const dir = `/sys/fs/cgroup/memory/tracejob-test-${process.pid}-${name}`;
  mkdirSync(dir);
  writeFileSync(join(dir, 'memory.limit_in_bytes'), String(LIMIT_BYTES));
  return {
    enter: `echo $$ > ${dir}/cgroup.procs`,
    async cleanup() {
      for (let i = 0; i < 100; i++) {
        try {
          rmdirSync(dir);
          return;
        } catch {
          await sleep(20);
        }
      }
    },
  };
}

const skip = kernelTestSkipReason() ?? memoryLimitSkipReason();

describe('oomkill in the kernel (real OOM kills inside memory-limited test cgroups)', { skip }, () => {
  let traced: TestCgroup;
  let other: TestCgroup;
  let tracedLimit: MemoryLimit;
  let otherLimit: MemoryLimit;
  before(() => {
    buildGadgetObject('oomkill');
    traced = createTestCgroup(uniqueCgroupPath('oom-traced'));
    other = createTestCgroup(uniqueCgroupPath('oom-other'));
    tracedLimit = limitMemory(traced, 'oom-traced');
    otherLimit = limitMemory(other, 'oom-other');
  });
  after(async () => {
    await traced?.destroy();
    await other?.destroy();
    await tracedLimit?.cleanup();
    await otherLimit?.cleanup();
  });

  // perl builds a 256 MiB string under a 32 MiB limit and gets OOM-killed (SIGKILL: exit 137)
  const hog = (limit: MemoryLimit) => `${limit.enter} && exec perl -e '$x = "a" x (256*1024*1024); print "survived\\n"'`;

  test('the victim of the traced cgroup with its pages; nothing of the other', async () => {
    let one = { pid: 0, code: 0 as number | null, stdout: '' };
    let two = { pid: 0, code: 0 as number | null, stdout: '' };
    const { events } = await traceDuring({ gadget: 'oomkill', cgroupIds: [traced.id] }, async () => {
      one = await runInCgroup(traced, '/bin/sh', ['-c', hog(tracedLimit)]);
      two = await runInCgroup(other, '/bin/sh', ['-c', hog(otherLimit)]);
    });
    assert.equal(one.stdout, '', 'the traced hog was OOM-killed');
    assert.equal(two.stdout, '', 'the other hog was OOM-killed');
    const kills = events as OomkillEvent[];
    assert.deepEqual(
      kills.map((e) => [e.pid, e.tid, e.comm, e.cgroupId, e.triggerPid, e.triggerComm]),
      [[one.pid, one.pid, 'perl', traced.id, one.pid, 'perl']],
    );
    const kill = kills[0]!;
    // anonymous memory is what the limit caught: between half the limit and the limit
    const limitPages = LIMIT_BYTES / 4096;
    assert.ok(kill.anonRssPages > limitPages / 2 && kill.anonRssPages <= limitPages, `anonRssPages ${kill.anonRssPages} near the limit of ${limitPages}`);
    assert.equal(kill.rssPages, kill.anonRssPages + kill.fileRssPages + kill.shmemRssPages);
    assert.ok(kill.totalVmPages > LIMIT_BYTES / 4096, `totalVmPages ${kill.totalVmPages} above the limit`);
  });

  test("'all' sees both cgroups", async () => {
    let one = { pid: 0 };
    let two = { pid: 0 };
    const { events } = await traceDuring({ gadget: 'oomkill', cgroupIds: 'all' }, async () => {
      one = await runInCgroup(traced, '/bin/sh', ['-c', hog(tracedLimit)]);
      two = await runInCgroup(other, '/bin/sh', ['-c', hog(otherLimit)]);
    });
    const kills = events as OomkillEvent[];
    assert.ok(kills.some((e) => e.pid === one.pid && e.cgroupId === traced.id));
    assert.ok(kills.some((e) => e.pid === two.pid && e.cgroupId === other.id));
  });
});
