/**
 * Every `tracejob` command against a real all-in-one server (`node bin/tracejob.js serve`) that
 * runs real traces on a real cgroup with a process exec'ing in it; exit codes included.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../../cli/main.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';
import { REPO_ROOT, TRACEJOB_BIN, startTracejobServer, type TracejobServer } from './tracejob-server.ts';

const kernelSkip = kernelTestSkipReason();
let server: TracejobServer;
let cgroup: TestCgroup | undefined;
let workDir: string;

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...argv: string[]): Promise<CliRun> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await runCli(argv, { stdout, stderr, env: { TRACEJOB_SERVER: server.url }, stderrIsTty: false });
  return { code, stdout: out, stderr: err };
}

async function waitEnded(id: string): Promise<string> {
  for (let i = 0; i < 300; i += 1) {
    const t = (await (await fetch(`${server.url}/v1/traces/${id}`)).json()) as { status: string };
    if (['succeeded', 'partial', 'failed', 'cancelled'].includes(t.status)) return t.status;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`trace ${id} did not end`);
}

before(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'tracejob-cli-'));
  server = await startTracejobServer();
  if (!kernelSkip) {
    cgroup = createTestCgroup(uniqueCgroupPath('cli'));
    // Something to see: a shell that execs /bin/true five times a second.
    cgroup.spawn('/bin/sh', ['-c', 'while :; do /bin/true; sleep 0.2; done']);
  }
});

after(async () => {
  await cgroup?.destroy();
  await server?.close();
  rmSync(workDir, { recursive: true, force: true });
});

describe('without a kernel trace', () => {
  test('gadgets lists the catalogue (table and json)', async () => {
    const table = await cli('gadgets');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^GADGET +TOP FIELDS +DESCRIPTION\n/);
    assert.match(table.stdout, /^exec +/m);
    const json = await cli('gadgets', '-o', 'json');
    assert.ok((JSON.parse(json.stdout) as { items: { name: string }[] }).items.some((g) => g.name === 'tcpconnect'));
  });

  test('usage errors exit 2 and say what is wrong', async () => {
    const r = await cli('run', 'exec');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /name a target/);
    assert.equal((await cli('bogus')).code, 2);
    assert.equal((await cli('get', 'not-an-id')).code, 2);
  });

  test('the server refusing a malformed request is a usage error (2), naming the field', async () => {
    const r = await cli('run', 'exec', '--cgroup', '/x', '-d', '100000s');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /durationSeconds/);
    assert.match(r.stderr, /HTTP 400, field durationSeconds/);
  });

  test('a target that matches nothing, an unknown trace, an unreachable server: exit 1', async () => {
    const none = await cli('run', 'exec', '--cgroup', `tracejob-missing-${process.pid}`, '-d', '1s');
    assert.equal(none.code, 1, none.stderr);
    assert.match(none.stderr, /HTTP 422/);
    const missing = await cli('get', randomUUID());
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no trace .* \(HTTP 404\)/);
    const down = await runCli(['ls', '--server', 'http://127.0.0.1:1'], { stdout: new PassThrough(), stderr: new PassThrough(), env: {}, stderrIsTty: false });
    assert.equal(down, 1);
  });

  test('schedule create, ls, get, rm against the server; a too-short interval is a usage error naming the field', async () => {
    const created = await cli('schedule', 'create', 'exec', '--pid', String(process.pid), '-d', '5s', '--cron', '0 3 * * *', '--tz', 'Europe/Paris', '--keep-runs', '3');
    assert.equal(created.code, 0, created.stderr);
    const id = created.stdout.trim();
    assert.match(id, /^[0-9a-f-]{36}$/);
    const ls = await cli('schedule', 'ls');
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(ls.stdout, /^ID +WHEN +GADGET +DURATION +NEXT RUN +TARGET\n/);
    assert.match(ls.stdout, new RegExp(`^${id} +cron 0 3 \\* \\* \\* \\(Europe/Paris\\) +exec +5s +\\S+ +pid=${process.pid}$`, 'm'));
    const get = await cli('schedule', 'get', id, '-o', 'json');
    assert.equal(get.code, 0, get.stderr);
    const view = JSON.parse(get.stdout) as { keepRuns: number; runs: unknown[]; timeZone: string };
    assert.equal(view.keepRuns, 3);
    assert.deepEqual(view.runs, []);
    const tooOften = await cli('schedule', 'create', 'exec', '--pid', String(process.pid), '--every', '10s');
    assert.equal(tooOften.code, 2);
    assert.match(tooOften.stderr, /every: 10s is shorter than this server's minimum of 1m.*field every/);
    const rm = await cli('schedule', 'rm', id);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal((await cli('schedule', 'get', id)).code, 1, 'gone: 404');
  });

  test('the tracejob launcher routes subcommands to the CLI with its exit codes', () => {
    const ok = spawnSync(process.execPath, [TRACEJOB_BIN, 'gadgets', '--server', server.url], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^exec/m);
    const usage = spawnSync(process.execPath, [TRACEJOB_BIN, 'run'], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /missing the gadget/);
  });
});

describe('real traces', { skip: kernelSkip }, () => {
  let finishedId = '';

  test('run --wait: live progress on stderr, a summary table on stdout, exit 0', async () => {
    const r = await cli('run', 'exec', '--cgroup', cgroup!.relPath, '-d', '2s', '--wait');
    assert.equal(r.code, 0, `${r.stderr}\n${server.output().slice(-2000)}`);
    const id = /^trace ([0-9a-f-]{36}) queued$/m.exec(r.stderr)?.[1];
    assert.ok(id, r.stderr);
    finishedId = id;
    assert.match(r.stderr, /^running +\d+s\/2s +tracing [01]\/1 +done \d\/1 +events \d+/m);
    assert.match(r.stderr, /^tracing on 1\/1 node since \d\d:\d\d:\d\d\.\d{3}: reproduce the problem now$/m, 'said once the node traces');
    assert.ok(r.stderr.indexOf('tracing on 1/1 node') < r.stderr.indexOf('succeeded'), 'said before the trace ended');
    assert.match(r.stdout, new RegExp(`^trace ${id} succeeded: [1-9]\\d* events, 0 lost, 1/1 nodes`, 'm'));
    assert.match(r.stdout, /^cli-test-node +succeeded +[1-9]/m);
    assert.match(r.stdout, /^top comm\nCOUNT +COMM\n(\d+ +\S+\n)*\d+ +true$/m);
  });

  test('run without --wait prints the id; get, ls, events, bundle read the trace', async () => {
    if (!finishedId) {
      const started = await cli('run', 'exec', '--cgroup', cgroup!.relPath, '-d', '1s');
      assert.equal(started.code, 0, started.stderr);
      finishedId = started.stdout.trim();
      assert.match(finishedId, /^[0-9a-f-]{36}$/);
      assert.equal(await waitEnded(finishedId), 'succeeded');
    }
    const id = finishedId;
    const get = await cli('get', id);
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /^status: +succeeded$/m);
    assert.match(get.stdout, /^target: +cgroup=/m);
    const view = JSON.parse((await cli('get', id, '-o', 'json')).stdout) as { counts: { events: number } };
    assert.ok(view.counts.events > 0);

    const ls = await cli('ls');
    assert.equal(ls.code, 0);
    assert.match(ls.stdout, new RegExp(`^${id} +succeeded +exec `, 'm'));

    const json = await cli('events', id, '-o', 'json');
    assert.equal(json.code, 0, json.stderr);
    const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { comm: string; node: string });
    assert.equal(events.length, view.counts.events);
    assert.ok(events.some((e) => e.comm === 'true' || e.comm === 'sh'));
    const table = await cli('events', id);
    assert.equal(table.code, 0);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^TIME +NODE +POD +CONTAINER +PID +COMM +DETAILS$/);
    assert.equal(lines.length, events.length + 1);
    assert.match(lines[1]!, /^\d\d:\d\d:\d\d\.\d{9} +cli-test-node /);

    const file = join(workDir, 'bundle.tar.gz');
    const bundle = await cli('bundle', id, '-o', file);
    assert.equal(bundle.code, 0, bundle.stderr);
    const bytes = readFileSync(file);
    assert.deepEqual([...bytes.subarray(0, 2)], [0x1f, 0x8b], 'gzip');
    const listing = spawnSync('tar', ['tzf', file], { encoding: 'utf8' });
    assert.match(listing.stdout, /manifest\.json/);
    assert.match(listing.stdout, /summary\.json/);
    assert.match(listing.stdout, /nodes\/cli-test-node\/events\.ndjson/);
    assert.ok(statSync(file).size > 100);
  });

  test('events --follow prints the events once the node reports, exits with the trace', async () => {
    const started = await cli('run', 'exec', '--cgroup', cgroup!.relPath, '-d', '2s');
    const id = started.stdout.trim();
    const r = await cli('events', id, '--follow', '-o', 'json');
    assert.equal(r.code, 0, r.stderr);
    const n = r.stdout.trim().split('\n').filter(Boolean).length;
    const view = (await (await fetch(`${server.url}/v1/traces/${id}`)).json()) as { status: string; counts: { events: number } };
    assert.equal(view.status, 'succeeded');
    assert.equal(n, view.counts.events);
    assert.ok(n > 0);
  });

  test('cancel stops a running trace (exit 0); cancelling an ended one exits 1; delete removes it', async () => {
    const started = await cli('run', 'exec', '--cgroup', cgroup!.relPath, '-d', '8s');
    const id = started.stdout.trim();
    for (let i = 0; i < 100; i += 1) {
      const t = (await (await fetch(`${server.url}/v1/traces/${id}`)).json()) as { status: string };
      if (t.status === 'running') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const cancel = await cli('cancel', id);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.match(cancel.stdout, /cancel(led| requested)/);
    assert.equal(await waitEnded(id), 'cancelled');
    const again = await cli('cancel', id);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already ended \(cancelled\)/);
    const del = await cli('delete', id);
    assert.equal(del.code, 0, del.stderr);
    assert.equal((await cli('get', id)).code, 1);
  });

  test('run --wait of a trace that is cancelled exits 1', async () => {
    const pending = cli('run', 'exec', '--cgroup', cgroup!.relPath, '-d', '7s', '--wait');
    let id: string | undefined;
    for (let i = 0; i < 100 && !id; i += 1) {
      await new Promise((r) => setTimeout(r, 100));
      const list = (await (await fetch(`${server.url}/v1/traces?status=running`)).json()) as { items: { id: string; durationSeconds: number }[] };
      id = list.items.find((t) => t.durationSeconds === 7)?.id;
    }
    assert.ok(id, 'the trace started');
    await fetch(`${server.url}/v1/traces/${id}`, { method: 'DELETE' });
    const r = await pending;
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^trace ${id} cancelled`, 'm'));
  });
});
