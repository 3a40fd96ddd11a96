/**
 * Startup traces end to end on this machine: the all-in-one server, real runners, the real exec and
 * open gadgets in the kernel. Two traces (`target.startup: true`) wait on a parent cgroup that
 * already holds a busy child; after both runners are attached, a new cgroup is created below the
 * parent and a process started in it. Both traces record that process from its very first exec
 * and open, say which start they saw, and leave out (but count) what the old child did before.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../../state/src/config.ts';
import { startAllInOne, type RunningServer } from '../../cli/serve.ts';
import type { NodeSummary } from '../../contracts/index.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';
import { untarGzText } from '../support/tar.ts';

const repo = new URL('../..', import.meta.url).pathname;
const objects = ['exec', 'open'].map((g) => join(repo, `bpf/gadgets/${g}/${g}.bpf.o`));
const skip = kernelTestSkipReason() ?? (objects.every((o) => existsSync(o)) ? undefined : 'exec/open objects not built (npm run build:bpf)');
const NODE = 'startup-node';

let server: RunningServer;
let dataDir: string;
let pod: TestCgroup;
let oldContainer: TestCgroup;
let newContainer: TestCgroup | undefined;
let marker: string;
const workloads: ChildProcess[] = [];

before(async () => {
  if (skip) return;
  dataDir = mkdtempSync(join(tmpdir(), 'tracejob-startup-'));
  marker = join(dataDir, 'startup-marker');
  writeFileSync(marker, 'first\n');
  server = await startAllInOne(loadConfig({ DATA_DIR: dataDir, PORT: '0', NODE_NAME: NODE, LOG_LEVEL: 'silent' }));
  pod = createTestCgroup(uniqueCgroupPath('pod'));
  oldContainer = createTestCgroup(`${pod.relPath}/old`);
  workloads.push(oldContainer.spawn('/bin/sh', ['-c', `while :; do /bin/cat ${marker} >/dev/null; sleep 0.05; done`]));
});

after(async () => {
  if (skip) return;
  for (const w of workloads) w.kill('SIGKILL');
  await newContainer?.destroy();
  await oldContainer?.destroy();
  await pod?.destroy();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function post(body: unknown): Promise<string> {
  const res = await fetch(`${server.url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal(res.status, 202, await res.clone().text());
  return ((await res.json()) as { id: string }).id;
}

/** The node reports tracingSince once its gadget is attached (the startup wait is armed then): the readiness signal. */
async function waitUntilWaiting(id: string): Promise<void> {
  for (let i = 0; i < 600; i += 1) {
    const t = (await (await fetch(`${server.url}/v1/traces/${id}`)).json()) as { status: string; nodes: { tracingSince?: string }[] };
    if (t.nodes.some((n) => n.tracingSince)) return;
    if (!['queued', 'running'].includes(t.status)) assert.fail(`trace ${id} ended before it traced: ${JSON.stringify(t)}`);
    await sleep(50);
  }
  const log = join(dataDir, 'runs', id, NODE, 'runner.log');
  assert.fail(`runner of ${id} never reported tracing:\n${existsSync(log) ? readFileSync(log, 'utf8').slice(-3000) : '(no log)'}`);
}

async function finished(id: string): Promise<{ status: string; error?: string }> {
  for (let i = 0; i < 600; i += 1) {
    const t = (await (await fetch(`${server.url}/v1/traces/${id}`)).json()) as { status: string; error?: string };
    if (['succeeded', 'partial', 'failed', 'cancelled'].includes(t.status)) return t;
    await sleep(100);
  }
  assert.fail(`trace ${id} did not finish`);
}

async function eventsOf(id: string): Promise<Record<string, unknown>[]> {
  const text = (await (await fetch(`${server.url}/v1/traces/${id}/events`)).text()).trim();
  return text ? text.split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) : [];
}

async function nodeSummary(id: string): Promise<NodeSummary> {
  const files = await untarGzText(Buffer.from(await (await fetch(`${server.url}/v1/traces/${id}/bundle`)).arrayBuffer()));
  const raw = files.get(`nodes/${NODE}/summary.json`) ?? files.get('summary.json');
  assert.ok(raw, `no summary in the bundle: ${[...files.keys()].join(', ')}`);
  return JSON.parse(raw) as NodeSummary;
}

test('a startup trace records the first exec and opens of a process started in a cgroup created after it attached', { skip }, async () => {
  const target = { cgroupPaths: [pod.relPath], startup: true, startupTimeoutSeconds: 120 };
  const execId = await post({ gadget: 'exec', durationSeconds: 2, target });
  const openId = await post({ gadget: 'open', durationSeconds: 2, target, params: { pathPrefix: '/' } });
  await waitUntilWaiting(execId);
  await waitUntilWaiting(openId);
  // the old child execs once more while both wait: seen and counted, not recorded
  assert.equal((await oldContainer.run('/bin/cat', [marker])).code, 0);

  // The "container": a cgroup that did not exist when the traces started, and a process that
  // moves itself into it and then execs cat (so its first exec in there is cat's).
  newContainer = createTestCgroup(`${pod.relPath}/new-container`);
  const run = await newContainer.run('/bin/cat', [marker]);
  assert.equal(run.code, 0);

  assert.equal((await finished(execId)).status, 'succeeded');
  assert.equal((await finished(openId)).status, 'succeeded');

  const execs = await eventsOf(execId);
  const first = execs[0];
  assert.ok(first, 'the exec trace recorded events');
  assert.equal(first.cgroupId, newContainer.id, `the first exec recorded is in the new cgroup: ${JSON.stringify(first)}`);
  assert.equal(first.filename, '/bin/cat');
  assert.deepEqual(first.argv, ['/bin/cat', marker]);
  assert.equal(first.retval, 0);
  const catPid = first.pid;

  const opens = (await eventsOf(openId)).filter((e) => e.pid === catPid);
  assert.ok(opens.length >= 2, `cat's opens were recorded: ${JSON.stringify(opens)}`);
  // its very first open is the dynamic loader's, long before it reaches its argument
  assert.equal(opens[0]!.path, '/etc/ld.so.cache', JSON.stringify(opens.slice(0, 3)));
  assert.ok(opens.some((e) => e.path === marker), 'and the file it was asked to read');

  for (const [id, summaryOf] of [[execId, 'exec'], [openId, 'open']] as const) {
    const summary = await nodeSummary(id);
    assert.ok(summary.startup, `${summaryOf}: summary.startup`);
    assert.equal(summary.startup.start?.cgroupId, newContainer.id);
    assert.equal(summary.startup.start?.cgroupPath, newContainer.path);
    assert.equal(summary.startup.start?.pid, catPid);
    assert.equal(summary.startup.timeoutSeconds, 120);
    // the old child kept running cat while the trace waited: counted, not recorded before the start
    assert.ok(summary.startup.eventsBeforeStart > 0, `${summaryOf}: events before the start are counted`);
  }
  const beforeStart = execs.filter((e) => (e.timestamp as number) < (first.timestamp as number));
  assert.deepEqual(beforeStart, []);
});

test('a startup trace with nothing starting fails after its timeout, saying so', { skip }, async () => {
  const quiet = createTestCgroup(`${pod.relPath}/quiet-parent`);
  try {
    const id = await post({ gadget: 'exec', durationSeconds: 1, target: { cgroupPaths: [quiet.relPath], startup: true, startupTimeoutSeconds: 1 } });
    const t = await finished(id);
    assert.equal(t.status, 'failed');
    assert.match(t.error ?? '', /no container started below the target within 1s/);
    const summary = await nodeSummary(id);
    assert.equal(summary.startup?.start, undefined);
  } finally {
    await quiet.destroy();
  }
});
