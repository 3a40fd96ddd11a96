/**
 * The product as installed: `npm run build`, then `tracejob serve` and `tracejob-runner` from the
 * compiled dist/ (not the TypeScript sources every other test runs). Paths that are found relative
 * to the code (the runner's command, DATA_DIR, the web page's files, the package version) must work
 * from dist/ too: one real exec trace through the compiled server and runner.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeLoopbackPort } from '../../state/src/redis-server-process.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';

const repo = new URL('../..', import.meta.url).pathname;
const skip = kernelTestSkipReason();

let server: ChildProcess | undefined;
let output = '';
let base = '';
let dataDir = '';
let cgroup: TestCgroup | undefined;

before(async () => {
  if (skip) return;
  const build = spawnSync('npm', ['run', '-s', 'build:ts'], { cwd: repo, encoding: 'utf8' });
  assert.equal(build.status, 0, `npm run build:ts failed:\n${build.stdout}\n${build.stderr}`);
  dataDir = mkdtempSync(join(tmpdir(), 'tracejob-built-'));
  const port = await freeLoopbackPort();
  base = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), DATA_DIR: dataDir, NODE_NAME: 'built-node', LOG_LEVEL: 'info' };
  delete env.TRACEJOB_FROM_SOURCE; // the point of this test: run dist/
  delete env.RUNNER_COMMAND;
  server = spawn(process.execPath, [join(repo, 'bin/tracejob.js'), 'serve'], { cwd: tmpdir(), env, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  server.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  for (let i = 0; i < 200; i += 1) {
    try {
      if ((await fetch(`${base}/readyz`)).ok) break;
    } catch {
      /* not yet */
    }
    assert.equal(server.exitCode, null, `tracejob serve exited:\n${output}`);
    await sleep(100);
  }
  cgroup = createTestCgroup(uniqueCgroupPath('built'));
  cgroup.spawn('/bin/sh', ['-c', 'while :; do /bin/true built-marker; sleep 0.1; done']);
});

after(async () => {
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((r) => server!.once('exit', r));
  }
  await cgroup?.destroy();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('the compiled server and runner run a real exec trace', { skip }, async () => {
  assert.match(output, /dist|ready/, 'the server started');
  const res = await fetch(`${base}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ gadget: 'exec', durationSeconds: 2, target: { cgroupPaths: [cgroup!.relPath] } }),
  });
  assert.equal(res.status, 202, await res.clone().text());
  const { id } = (await res.json()) as { id: string };
  let trace: { status: string; nodes: { error?: string }[] } = { status: 'queued', nodes: [] };
  for (let i = 0; i < 150 && ['queued', 'running'].includes(trace.status); i += 1) {
    await sleep(200);
    trace = (await (await fetch(`${base}/v1/traces/${id}`)).json()) as typeof trace;
  }
  assert.equal(trace.status, 'succeeded', `trace ended ${trace.status}: ${JSON.stringify(trace.nodes)}\n${output.slice(-2000)}`);

  const page = (await (await fetch(`${base}/v1/traces/${id}/events?limit=1000`)).json()) as { items: { filename: string; argv: string[]; cgroupId: number }[] };
  const mine = page.items.filter((e) => e.filename === '/bin/true');
  assert.ok(mine.length > 0, 'the workload execs were traced');
  assert.deepEqual(mine[0]!.argv, ['/bin/true', 'built-marker']);
  assert.ok(page.items.every((e) => e.cgroupId === cgroup!.id), 'only the target cgroup');

  const ui = await fetch(`${base}/ui/`);
  assert.equal(ui.status, 200, 'the web page is served from dist/');
  for (const vendor of ['d3.min.js', 'd3-flamegraph.js']) {
    const v = await fetch(`${base}/ui/vendor/${vendor}`);
    assert.equal(v.status, 200, `the flame graph library ${vendor} is served from node_modules`);
    assert.match(v.headers.get('content-security-policy') ?? '', /style-src 'self' 'sha256-/);
  }

  const runDirs = join(dataDir, 'runs', id, 'built-node');
  assert.match(readFileSync(join(runDirs, 'spec.json'), 'utf8'), /"gadget":\s*"exec"/, 'the runner worked under DATA_DIR');
});
