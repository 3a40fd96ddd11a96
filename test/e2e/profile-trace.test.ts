/**
 * End to end on this machine: `tracejob run profile … --wait` against the all-in-one server (API +
 * scheduler + local backend + private redis-server) with a real runner loading the profile gadget
 * into the kernel. One cgroup burns CPU in burn_cpu(), another spins elsewhere; only the first is
 * profiled. The CLI prints the top functions; GET /profile returns the merged folded stacks (and
 * JSON, SVG); the bundle holds profile.folded and profile.svg.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../state/src/config.ts';
import { compileBurn, startInCgroup, type RunningWorkload } from '../../bpf/gadgets/profile/profile-test-workload.ts';
import { buildGadgetObject } from '../../bpf/src/gadget-test-fixture.ts';
import { runCli } from '../../cli/main.ts';
import { startAllInOne, type RunningServer } from '../../cli/serve.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';
import { untarGzText } from '../support/tar.ts';

const skip = kernelTestSkipReason();

let server: RunningServer;
let dataDir: string;
let target: TestCgroup;
let other: TestCgroup;
const workloads: RunningWorkload[] = [];

before(async () => {
  if (skip) return;
  buildGadgetObject('profile');
  dataDir = mkdtempSync(join(tmpdir(), 'tracejob-e2e-profile-'));
  const burn = compileBurn(join(dataDir, 'burn'));
  server = await startAllInOne(loadConfig({ DATA_DIR: dataDir, PORT: '0', NODE_NAME: 'e2e-node', LOG_LEVEL: 'silent' }));
  target = createTestCgroup(uniqueCgroupPath('hot'));
  other = createTestCgroup(uniqueCgroupPath('busy'));
  workloads.push(await startInCgroup(target, burn, ['120', 'burn']));
  workloads.push(await startInCgroup(other, burn, ['120', 'spin']));
});

after(async () => {
  if (skip) return;
  for (const w of workloads) w.child.kill('SIGKILL');
  await target?.destroy();
  await other?.destroy();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await runCli(argv, { stdout, stderr, env: { TRACEJOB_SERVER: server.url }, stderrIsTty: false });
  return { code, stdout: out, stderr: err };
}

test('profile of one cgroup: the CLI prints burn_cpu on top; /profile and the bundle hold its folded stacks and flame graph', { skip }, async () => {
  const run = await cli('run', 'profile', '--cgroup', target.relPath, '-d', '3s', '--param', 'frequencyHz=199', '--wait');
  assert.equal(run.code, 0, run.stderr);
  const id = /trace ([0-9a-f-]{36})/.exec(run.stderr)?.[1];
  assert.ok(id, run.stderr);
  assert.match(run.stdout, /succeeded/);
  const selfTable = run.stdout.split('top functions (self)\n')[1] ?? '';
  const firstRow = selfTable.split('\n')[1] ?? '';
  assert.match(firstRow, /\sburn_cpu$/, `burn_cpu heads the self table:\n${run.stdout}`);
  assert.doesNotMatch(run.stdout, /spin_elsewhere/);

  const folded = await (await fetch(`${server.url}/v1/traces/${id}/profile`)).text();
  const lines = folded.trim().split('\n');
  assert.ok(lines.length > 0 && lines.every((l) => /^[^;\n]+(;[^;\n]+)* \d+$/.test(l)), `folded lines: ${folded.slice(0, 500)}`);
  assert.ok(lines.some((l) => /^burn;.*;main;burn_cpu \d+$/.test(l) || /^burn;.*main;burn_cpu(;[^;]+_\[k\])* \d+$/.test(l)), folded.slice(0, 500));
  assert.doesNotMatch(folded, /spin_elsewhere/);

  const json = (await (await fetch(`${server.url}/v1/traces/${id}/profile?format=json`)).json()) as {
    samples: number;
    stacks: { stack: string; samples: number }[];
    summary: { topSelf: { frame: string }[]; perContainer: { cgroupId?: number }[] };
  };
  assert.equal(json.summary.topSelf[0]?.frame, 'burn_cpu');
  assert.equal(json.samples, json.stacks.reduce((n, s) => n + s.samples, 0));
  assert.deepEqual(
    json.summary.perContainer.map((c) => c.cgroupId),
    [target.id],
  );
  const elsewhere = await fetch(`${server.url}/v1/traces/${id}/profile?node=other-node`);
  assert.equal(elsewhere.status, 200);
  assert.equal(await elsewhere.text(), '', 'a node filter keeps only that node');
  const svg = await fetch(`${server.url}/v1/traces/${id}/profile?format=svg`);
  assert.equal(svg.headers.get('content-type'), 'image/svg+xml');
  assert.match(await svg.text(), /<title>burn_cpu \(\d+ samples/);
  const bad = await fetch(`${server.url}/v1/traces/${id}/profile?format=png`);
  assert.equal(bad.status, 400);

  const bundle = await untarGzText(Buffer.from(await (await fetch(`${server.url}/v1/traces/${id}/bundle`)).arrayBuffer()));
  assert.equal(bundle.get('profile.folded'), folded);
  assert.match(bundle.get('profile.svg') ?? '', /^<\?xml[\s\S]*burn_cpu[\s\S]*<\/svg>\n$/);
  const summary = JSON.parse(bundle.get('summary.json')!) as { profile: { samples: number; frequencyHz: number; topSelf: { frame: string }[] }; lostEvents: number };
  assert.equal(summary.profile.frequencyHz, 199);
  assert.equal(summary.profile.topSelf[0]?.frame, 'burn_cpu');
  assert.equal(summary.profile.samples, json.samples);
});

test('an exec trace has no profile (404)', { skip }, async () => {
  const res = await fetch(`${server.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ gadget: 'exec', durationSeconds: 1, target: { cgroupPaths: [target.relPath] } }),
  });
  const { id } = (await res.json()) as { id: string };
  const profile = await fetch(`${server.url}/v1/traces/${id}/profile`);
  assert.equal(profile.status, 404);
  assert.match(((await profile.json()) as { message: string }).message, /only profile traces have a profile/);
});
