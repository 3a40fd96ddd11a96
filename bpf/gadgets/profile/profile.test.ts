import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../../test/support/cgroups.ts';
import { buildGadgetObject, traceDuring } from '../../src/gadget-test-fixture.ts';
import { validateParams } from '../index.ts';
import { fileOffsetToVaddr, readElfSymbols, symbolAt } from './elf-symbols.ts';
import { flameGraphSvg } from './flame-graph-svg.ts';
import { parseKallsyms } from './kernel-symbols.ts';
import { mappingAt, parseMaps } from './process-maps.ts';
import { decodeProfileKey, profileDrops, stackAddresses, type ProfileEvent } from './profile.ts';
import { FoldedStacks, ProfileTally, mergeProfileSummaries } from './profile-summary.ts';
import { compileBurn, startInCgroup, whenReady } from './profile-test-workload.ts';

const skip = kernelTestSkipReason();

describe('profile params', () => {
  test('defaults: 49 Hz, user and kernel stacks; frequency bounded to 1…1000', () => {
    const ok = validateParams('profile', {});
    assert.ok(ok.ok);
    assert.deepEqual(ok.params, { frequencyHz: 49, userStacks: true, kernelStacks: true });
    for (const bad of [0, 1001, 49.5, '49']) {
      const r = validateParams('profile', { frequencyHz: bad });
      assert.equal(r.ok, false, `frequencyHz ${String(bad)} is refused`);
      if (!r.ok) assert.equal(r.errors[0]!.field, 'frequencyHz');
    }
    assert.equal(validateParams('profile', { interval: 3 }).ok, false);
  });
});

describe('profile decoding', () => {
  test('key, stack and drop counters as profile.bpf.c lays them out', () => {
    const key = Buffer.alloc(48);
    key.writeBigUInt64LE(777n, 0);
    key.writeUInt32LE(10, 8);
    key.writeUInt32LE(11, 12);
    key.writeUInt32LE(1000, 16);
    key.writeInt32LE(5, 20);
    key.writeInt32LE(-1, 24);
    key.write('worker', 28);
    assert.deepEqual(decodeProfileKey(key), { cgroupId: 777, pid: 10, tid: 11, uid: 1000, userStackId: 5, kernelStackId: -1, comm: 'worker' });
    const stack = Buffer.alloc(127 * 8);
    stack.writeBigUInt64LE(0xffffffff81000010n, 0);
    stack.writeBigUInt64LE(0x401000n, 8);
    assert.deepEqual(stackAddresses(stack), [0xffffffff81000010n, 0x401000n]);
    const drops = Buffer.alloc(48);
    drops.writeBigUInt64LE(2n, 0);
    drops.writeBigUInt64LE(1n, 16);
    drops.writeBigUInt64LE(3n, 24 + 16);
    assert.deepEqual(profileDrops(drops), { stackCollision: 2, stackError: 0, samplesMapFull: 4 });
  });

  test('kallsyms: text symbols only, module names, exact 64-bit addresses, hidden addresses unresolved', () => {
    const k = parseKallsyms(
      ['ffffffff81000000 T _stext', 'ffffffff81000100 t do_thing', 'ffffffff81000200 D some_data', 'ffffffffc0001000 t mod_fn\t[kvm]'].join('\n'),
    );
    assert.equal(k.count, 3);
    assert.equal(k.frame(0xffffffff810000ffn), '_stext_[k]');
    assert.equal(k.frame(0xffffffff81000101n), 'do_thing_[k]');
    assert.equal(k.frame(0xffffffff81000250n), 'do_thing_[k]', 'data symbols are skipped');
    assert.equal(k.frame(0xffffffffc0001004n), 'mod_fn [kvm]_[k]');
    assert.equal(parseKallsyms('0000000000000000 T _stext').frame(0xffffffff81000000n), '[kernel]+0xffffffff81000000_[k]');
  });

  test('maps: executable mappings with their file key and the paths to read them through', () => {
    const maps = parseMaps(
      [
        '00400000-00401000 r--p 00000000 08:01 1234 /app/bin/server',
        '00401000-00402000 r-xp 00001000 08:01 1234 /app/bin/server',
        '7f0000000000-7f0000010000 r-xp 00002000 00:1f 99 /lib/libc.so.6 (deleted)',
        '7ffc00000000-7ffc00002000 r-xp 00000000 00:00 0 [vdso]',
      ].join('\n'),
      42,
    );
    assert.equal(maps.length, 3);
    assert.deepEqual(maps[0], {
      start: 0x401000,
      end: 0x402000,
      offset: 0x1000,
      fileKey: '08:01:1234',
      path: '/app/bin/server',
      sources: ['/proc/42/root/app/bin/server', '/proc/42/map_files/00401000-00402000'],
    });
    assert.equal(maps[1]!.path, '/lib/libc.so.6');
    assert.equal(mappingAt(maps, 0x7ffc00000100)?.path, '[vdso]');
    assert.equal(mappingAt(maps, 0x500000), undefined);
  });

  test('ELF: a compiled binary resolves burn_cpu; a file that is not ELF or is cut short is refused', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tracejob-elf-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const bin = compileBurn(join(dir, 'burn'));
    const table = readElfSymbols(bin);
    const burn = table.symbols.find((s) => s.name === 'burn_cpu');
    assert.ok(burn && burn.size > 0, 'burn_cpu is a sized function symbol');
    assert.equal(symbolAt(table.symbols, burn.start + 3)?.name, 'burn_cpu');
    // the executable segment maps file offsets to addresses
    const seg = table.segments[0]!;
    assert.equal(fileOffsetToVaddr(table, seg.fileOffset + 16), seg.vaddr + 16);
    const junk = join(dir, 'junk');
    writeFileSync(junk, Buffer.from('#!/bin/sh\necho not elf\n'));
    assert.throws(() => readElfSymbols(junk), /not an ELF file/);
    const cut = join(dir, 'cut');
    writeFileSync(cut, readFileSync(bin).subarray(0, 200));
    assert.throws(() => readElfSymbols(cut), /outside the file|ended early/);
  });

  test('tally: top self and total functions overall and per container; folded stacks merged', () => {
    const tally = new ProfileTally();
    const folded = new FoldedStacks();
    const events = [
      { folded: 'app;main;work;burn_cpu', samples: 30, cgroupId: 1, pod: 'web', container: 'app', namespace: 'shop' },
      { folded: 'app;main;work', samples: 10, cgroupId: 1, pod: 'web', container: 'app', namespace: 'shop' },
      { folded: 'app;main;work;burn_cpu', samples: 5, cgroupId: 1, pod: 'web', container: 'app', namespace: 'shop' },
      { folded: 'db;main;query;memcpy_[k]', samples: 7, cgroupId: 2, pod: 'db', container: 'pg', namespace: 'shop' },
      { folded: 'bad', samples: -1 },
    ];
    for (const e of events) {
      tally.add(e);
      folded.add(e);
    }
    const s = tally.result({ frequencyHz: 49 });
    assert.equal(s.samples, 52);
    assert.equal(s.frequencyHz, 49);
    assert.deepEqual(s.topSelf[0], { frame: 'burn_cpu', samples: 35 });
    assert.deepEqual(s.topTotal.slice(0, 2), [
      { frame: 'main', samples: 52 },
      { frame: 'work', samples: 45 },
    ]);
    assert.equal(s.perContainer.length, 2);
    assert.deepEqual(s.perContainer[1]!.topSelf, [{ frame: 'memcpy_[k]', samples: 7 }]);
    assert.equal(folded.text(), 'app;main;work 10\napp;main;work;burn_cpu 35\ndb;main;query;memcpy_[k] 7\n');
    const merged = mergeProfileSummaries([
      { node: 'a', profile: s },
      { node: 'b', profile: s },
    ]);
    assert.equal(merged.samples, 104);
    assert.deepEqual(merged.topSelf[0], { frame: 'burn_cpu', samples: 70 });
    assert.equal(merged.perContainer[0]!.node, 'a');
  });

  test('flame graph SVG: one box per frame with its samples, names escaped, no script', () => {
    const svg = flameGraphSvg(
      new Map([
        ['app;main;burn_cpu', 30],
        ['app;main;operator<<', 10],
      ]),
      { title: 't' },
    );
    assert.match(svg, /^<\?xml/);
    assert.match(svg, /<title>burn_cpu \(30 samples, 75\.00%\)<\/title>/);
    assert.match(svg, /operator&lt;&lt; \(10 samples/);
    assert.doesNotMatch(svg, /<script|href=/);
    assert.match(flameGraphSvg(new Map()), /no samples/);
  });
});


/** Self samples per frame of the user part of the stacks (the leaf user frame of each event). */
function topUserLeaf(events: readonly ProfileEvent[]): string | undefined {
  const counts = new Map<string, number>();
  for (const e of events) {
    if (e.userFrames === 0) continue;
    const frames = e.folded.split(';');
    const leaf = frames[e.userFrames]!; // frames[0] is comm, then the user frames, then kernel ones
    counts.set(leaf, (counts.get(leaf) ?? 0) + e.samples);
  }
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}

describe('profile in the kernel', { skip }, () => {
  let dir: string;
  let burn: string;
  const cgroups: TestCgroup[] = [];

  before(() => {
    buildGadgetObject('profile');
    dir = mkdtempSync(join(tmpdir(), 'tracejob-profile-'));
    burn = compileBurn(join(dir, 'burn'));
  });
  after(async () => {
    for (const c of cgroups) await c.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  function cgroup(name: string): TestCgroup {
    const c = createTestCgroup(uniqueCgroupPath(name));
    cgroups.push(c);
    return c;
  }

  test('profiles only the target cgroup: burn_cpu is its top user frame, nothing of the other cgroup appears', async () => {
    const target = cgroup('hot');
    const other = cgroup('busy');
    const hot = await startInCgroup(target, burn, ['30', 'burn']);
    const busy = await startInCgroup(other, burn, ['30', 'spin']);
    const { events, lostEvents } = await traceDuring({ gadget: 'profile', params: { frequencyHz: 199 }, cgroupIds: [target.id] }, async () => {
      await new Promise((r) => setTimeout(r, 3000));
    });
    hot.child.kill('SIGKILL');
    busy.child.kill('SIGKILL');
    const profile = events as ProfileEvent[];
    const samples = profile.reduce((n, e) => n + e.samples, 0);
    assert.ok(samples >= 10, `the hot workload was sampled (${samples} samples)`);
    assert.equal(lostEvents, 0);
    for (const e of profile) {
      assert.equal(e.cgroupId, target.id, `only the target cgroup: ${e.folded}`);
      assert.notEqual(e.pid, busy.pid);
      assert.doesNotMatch(e.folded, /spin_elsewhere/);
    }
    assert.equal(topUserLeaf(profile.filter((e) => e.pid === hot.pid)), 'burn_cpu');
    assert.ok(profile.some((e) => /;main;.*burn_cpu/.test(e.folded)), 'the stack walks from main to burn_cpu');
  });

  test('a process whose binary exists only in its own mount namespace still resolves', async () => {
    const target = cgroup('mntns');
    const hidden = join(dir, 'hidden');
    mkdirSync(hidden);
    const staged = join(dir, 'staged-burn');
    compileBurn(staged);
    // In a private mount namespace: a tmpfs over `hidden` holds the only copy of the binary.
    const script = 'mount -t tmpfs tracejob-test "$1" && cp "$2" "$1/burn-ns" && rm "$2" && exec "$1/burn-ns" 30 burn';
    const child = target.spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', hidden, staged]);
    const running = await whenReady(child, 'burn in a mount namespace');
    assert.equal(existsSync(staged), false, 'the host has no copy of the binary');
    assert.equal(existsSync(join(hidden, 'burn-ns')), false, 'the binary is not visible from the host');
    const { events } = await traceDuring({ gadget: 'profile', params: { frequencyHz: 199, kernelStacks: false }, cgroupIds: [target.id] }, async () => {
      await new Promise((r) => setTimeout(r, 2500));
    });
    running.child.kill('SIGKILL');
    const profile = (events as ProfileEvent[]).filter((e) => e.pid === running.pid);
    assert.ok(profile.length > 0, 'the process was sampled');
    assert.equal(topUserLeaf(profile), 'burn_cpu');
  });

  test('a process that exits before the end resolves from what was read while it ran', async () => {
    const target = cgroup('short');
    const { events } = await traceDuring(
      { gadget: 'profile', params: { frequencyHz: 199, kernelStacks: false }, cgroupIds: [target.id], pollIntervalMs: 100 },
      async () => {
        const short = await startInCgroup(target, burn, ['1.5', 'burn']);
        await short.result; // it has exited: its /proc entry is gone before the session collects
        assert.equal(existsSync(`/proc/${short.pid}/maps`), false);
      },
    );
    assert.equal(topUserLeaf(events as ProfileEvent[]), 'burn_cpu');
  });
});
