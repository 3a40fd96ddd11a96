/**
 * End to end on this machine: the all-in-one server (API + scheduler + local backend + private
 * redis-server), a real runner child process loading the real exec gadget into the kernel. An
 * exec trace of one cgroup while a second cgroup also execs: only the target's events come back,
 * with the gadget's fields, in the events, the summary and the bundle.
 */
import { untarGzText } from '../support/tar.ts';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../state/src/config.ts';
import { getGadget } from '../../bpf/gadgets/index.ts';
import { startAllInOne, type RunningServer } from '../../cli/serve.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';

const repo = new URL('../..', import.meta.url).pathname;
const skip = kernelTestSkipReason() ?? (existsSync(join(repo, 'bpf/gadgets/exec/exec.bpf.o')) ? undefined : 'exec.bpf.o not built (npm run build:bpf)');

let server: RunningServer;
let dataDir: string;
let target: TestCgroup;
let other: TestCgroup;
const workloads: ChildProcess[] = [];

before(async () => {
  if (skip) return;
  dataDir = mkdtempSync(join(tmpdir(), 'tracejob-e2e-'));
  server = await startAllInOne(loadConfig({ DATA_DIR: dataDir, PORT: '0', NODE_NAME: 'e2e-node', LOG_LEVEL: 'silent' }));
  target = createTestCgroup(uniqueCgroupPath('target'));
  other = createTestCgroup(uniqueCgroupPath('other'));
  workloads.push(target.spawn('/bin/sh', ['-c', 'while :; do /usr/bin/id -u >/dev/null; /bin/true marker-target; sleep 0.1; done']));
  workloads.push(other.spawn('/bin/sh', ['-c', 'while :; do /bin/date >/dev/null; /bin/true marker-other; sleep 0.1; done']));
});

after(async () => {
  if (skip) return;
  for (const w of workloads) w.kill('SIGKILL');
  await target.destroy();
  await other.destroy();
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test('exec trace of one cgroup: succeeded, only its events, exact fields, summary and bundle', { skip }, async () => {
  const postedAt = Date.now();
  const res = await fetch(`${server.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ gadget: 'exec', durationSeconds: 3, target: { cgroupPaths: [target.relPath] } }),
  });
  assert.equal(res.status, 202, await res.clone().text());
  const { id, status } = (await res.json()) as { id: string; status: string };
  assert.equal(status, 'queued');

  let trace: { status: string; nodes: { node: string; status: string; events: number; lostEvents: number }[]; counts: { events: number } } | undefined;
  for (let i = 0; i < 300; i += 1) {
    trace = (await (await fetch(`${server.url}/v1/traces/${id}`)).json()) as typeof trace;
    if (trace && ['succeeded', 'partial', 'failed', 'cancelled'].includes(trace.status)) break;
    await sleep(100);
  }
  assert.equal(trace?.status, 'succeeded', JSON.stringify(trace));
  assert.equal(trace.nodes.length, 1);
  assert.equal(trace.nodes[0]!.node, 'e2e-node');
  assert.ok(trace.counts.events >= 10, `expected the target's execs, got ${trace.counts.events}`);

  const lines = (await (await fetch(`${server.url}/v1/traces/${id}/events`)).text()).trim().split('\n');
  const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(events.length, trace.counts.events);
  const gadgetFields = getGadget('exec')!.fields.map((f) => f.name);
  const allowed = new Set(['gadget', 'timestamp', 'pid', 'tid', 'ppid', 'uid', 'comm', 'cgroupId', 'node', 'namespace', 'pod', 'container', ...gadgetFields]);
  const required = ['gadget', 'timestamp', 'pid', 'tid', 'uid', 'comm', 'cgroupId', 'node', 'filename', 'argv', 'retval'];
  for (const e of events) {
    assert.equal(e.cgroupId, target.id, `event from another cgroup: ${JSON.stringify(e)}`);
    assert.equal(e.gadget, 'exec');
    assert.equal(e.node, 'e2e-node');
    for (const k of required) assert.ok(k in e, `missing ${k} in ${JSON.stringify(e)}`);
    for (const k of Object.keys(e)) assert.ok(allowed.has(k), `unexpected field ${k}`);
    assert.ok(!(e.argv as string[]).includes('marker-other'), 'an exec of the other cgroup leaked in');
    const ms = Number(e.timestamp) / 1e6;
    assert.ok(ms > postedAt - 1000 && ms < Date.now() + 1000, `timestamp ${e.timestamp} is not wall clock of this trace`);
  }
  const mine = events.find((e) => e.filename === '/bin/true' && (e.argv as string[])[1] === 'marker-target');
  assert.ok(mine, 'the target workload execs /bin/true marker-target');
  assert.equal(mine.retval, 0);
  assert.ok(events.some((e) => e.filename === '/usr/bin/id'));

  const page = (await (await fetch(`${server.url}/v1/traces/${id}/events?limit=5`)).json()) as { items: unknown[]; nextCursor?: string };
  assert.equal(page.items.length, 5);
  assert.deepEqual(page.items[0], events[0]);

  const bundle = Buffer.from(await (await fetch(`${server.url}/v1/traces/${id}/bundle`)).arrayBuffer());
  const files = await untarGzText(bundle);
  assert.ok(files.has('manifest.json') && files.has('summary.json') && files.has('nodes/e2e-node/events.ndjson'));
  const manifest = JSON.parse(files.get('manifest.json')!);
  assert.deepEqual(manifest.request.target, { cgroupPaths: [target.relPath] });
  assert.equal(manifest.status, 'succeeded');
  assert.equal(manifest.nodes[0].status, 'succeeded');
  assert.ok(manifest.timings.startedAt && manifest.timings.finishedAt);
  const summary = JSON.parse(files.get('summary.json')!);
  assert.equal(summary.events, events.length);
  assert.equal(summary.lostEvents, 0);
  assert.ok((summary.top.comm ?? []).length > 0 || Object.keys(summary.top).length > 0, 'top-N values present');
  assert.equal(files.get('nodes/e2e-node/events.ndjson')!.trim().split('\n').length, events.length);
});
