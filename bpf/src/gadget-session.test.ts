import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../../test/support/cgroups.ts';
import type { OpenEvent } from '../gadgets/open/open.ts';
import { GadgetParamsError } from '../gadgets/index.ts';
import { buildGadgetObject, runInCgroup } from './gadget-test-fixture.ts';
import type { GadgetEvent } from './gadget-definition.ts';
import { GadgetSession } from './gadget-session.ts';
import { findRepoRoot } from './repo-paths.ts';

describe('GadgetSession: bad input, before touching the kernel', () => {
  const noop = () => {};
  test('unknown gadget, bad params, bad ring size and bad cgroup ids are refused naming the field', async () => {
    await assert.rejects(GadgetSession.start({ gadget: 'nope', cgroupIds: 'all', onEvents: noop }), /gadget: unknown gadget 'nope'/);
    await assert.rejects(
      GadgetSession.start({ gadget: 'bind', params: { port: 'x' }, cgroupIds: 'all', onEvents: noop }),
      (err: unknown) => err instanceof GadgetParamsError && err.field === 'params.port',
    );
    await assert.rejects(GadgetSession.start({ gadget: 'exec', cgroupIds: 'all', ringBufferBytes: 5000, onEvents: noop }), /ringBufferBytes/);
    await assert.rejects(GadgetSession.start({ gadget: 'exec', cgroupIds: [0], onEvents: noop }), /cgroupIds: 0/);
  });

  test('a missing object file says how to build it', async () => {
    const fakeRoot = mkdtempSync(join(tmpdir(), 'tracejob-root-'));
    try {
      await assert.rejects(
        GadgetSession.start({ gadget: 'exec', cgroupIds: 'all', onEvents: noop, root: fakeRoot }),
        /exec\.bpf\.o is missing; build it with: make -C bpf/,
      );
    } finally {
      rmSync(fakeRoot, { recursive: true });
    }
  });

  test('the repository root is found from this module', () => {
    assert.equal(findRepoRoot(), join(import.meta.dirname, '..', '..'));
  });
});

const skip = kernelTestSkipReason();

describe('GadgetSession in the kernel', { skip }, () => {
  let cg: TestCgroup;
  const dir = `/tmp/tracejob-session-${process.pid}`;
  before(() => {
    buildGadgetObject('open');
    cg = createTestCgroup(uniqueCgroupPath('session'));
  });
  after(async () => {
    await cg?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const touch = (tag: string) => runInCgroup(cg, '/bin/sh', ['-c', `cat ${dir}-${tag} 2>/dev/null; true`]);

  test('addCgroup and removeCgroup change what is traced while running; stop is idempotent', async () => {
    const events: GadgetEvent[] = [];
    const session = await GadgetSession.start({
      gadget: 'open',
      params: { pathPrefix: dir },
      cgroupIds: [],
      onEvents: (batch) => events.push(...batch),
    });
    try {
      await touch('before');
      session.addCgroup(cg.id);
      assert.deepEqual(session.cgroupIds(), [cg.id]);
      await touch('added');
      assert.equal(session.removeCgroup(cg.id), true);
      assert.equal(session.removeCgroup(cg.id), false);
      await touch('removed');
      session.drain();
    } finally {
      session.stop();
      session.stop();
    }
    assert.equal(session.running, false);
    assert.deepEqual(
      (events as OpenEvent[]).map((e) => e.path),
      [`${dir}-added`],
    );
    assert.throws(() => session.addCgroup(cg.id), /stopped/);
    assert.equal(session.drain(), 0);
  });

  test('lostEvents counts what a full ring buffer could not take; none is lost silently', async () => {
    const N = 5000;
    const events: GadgetEvent[] = [];
    const session = await GadgetSession.start({
      gadget: 'open',
      params: { pathPrefix: `${dir}-flood` },
      cgroupIds: [cg.id],
      ringBufferBytes: 4096,
      onEvents: (batch) => events.push(...batch),
    });
    // The reader is a thread of this process: pin every thread of it to the flood's CPU, where the
    // SCHED_FIFO flood leaves it no time, so the 4 KiB ring overflows whatever the machine's load.
    const cpu = String(cpus().length - 1);
    execFileSync('taskset', ['-a', '-p', '-c', cpu, String(process.pid)], { stdio: 'ignore' });
    try {
      execFileSync('/bin/sh', ['-c', `echo $$ > ${cg.path}/cgroup.procs && exec chrt -f 50 taskset -c ${cpu} perl -e 'open(F, "<", "${dir}-flood") for 1..${N}'`]);
    } finally {
      execFileSync('taskset', ['-a', '-p', '-c', `0-${cpus().length - 1}`, String(process.pid)], { stdio: 'ignore' });
      session.stop();
    }
    const lost = session.lostEvents();
    assert.ok(lost > 0, 'a 4 KiB ring buffer overflowed');
    assert.equal(events.length + lost, N, `${events.length} delivered + ${lost} lost = ${N} opens`);
  });

  test('ancestorLevels: a cgroup created under a filtered one after start is traced from its first open; siblings are not', async () => {
    const pod = createTestCgroup(uniqueCgroupPath('pod'));
    const level = pod.relPath.split('/').length;
    const events: GadgetEvent[] = [];
    const session = await GadgetSession.start({
      gadget: 'open',
      params: { pathPrefix: `${dir}-anc` },
      cgroupIds: [pod.id],
      ancestorLevels: [level],
      onEvents: (batch) => events.push(...batch),
    });
    const later = createTestCgroup(`${pod.relPath}/started-later/nested`);
    try {
      await runInCgroup(later, '/bin/sh', ['-c', `cat ${dir}-anc-child 2>/dev/null; true`]);
      await touch('anc-sibling'); // cg is not under the pod
      session.drain();
    } finally {
      session.stop();
      await later.destroy();
      await pod.destroy();
    }
    const opens = (events as OpenEvent[]).map((e) => ({ path: e.path, cgroupId: e.cgroupId }));
    assert.deepEqual(opens, [{ path: `${dir}-anc-child`, cgroupId: later.id }]);
  });

  test('ancestorLevels must be cgroup levels', async () => {
    await assert.rejects(
      GadgetSession.start({ gadget: 'open', cgroupIds: [cg.id], ancestorLevels: [32], onEvents: () => {} }),
      /ancestorLevels: 32 is not a cgroup level/,
    );
  });

  test('stop releases every file descriptor', async () => {
    const { openFdCount } = await import('../native/index.js');
    const baseline = openFdCount();
    for (let i = 0; i < 3; i++) {
      const s = await GadgetSession.start({ gadget: 'open', cgroupIds: [cg.id], onEvents: () => {} });
      s.stop();
    }
    assert.equal(openFdCount(), baseline);
  });
});
