/**
 * The real tracejob-runner uploading its result to a real HTTP server started by the test:
 * success (a valid tar.gz with both files, the bearer token), retry after a 503, and give-up
 * after the attempts (exit code 3, files left on disk).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { RUNNER_EXIT, type NodeSummary } from '../contracts/index.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from './support/cgroups.ts';
import { startUploadServer, untarGz, type UploadServer } from './runner-upload-server.ts';
import { readSummary, startRunner } from './runner-process.ts';

const skip = kernelTestSkipReason();
let cg: TestCgroup;
let outRoot: string;
const servers: UploadServer[] = [];

before(() => {
  if (skip) return;
  cg = createTestCgroup(uniqueCgroupPath('upload'));
  outRoot = mkdtempSync(join(tmpdir(), 'tracejob-runner-up-'));
});
after(async () => {
  for (const s of servers) await s.close();
  await cg?.destroy();
  if (outRoot) rmSync(outRoot, { recursive: true, force: true });
});

async function traceAndUpload(name: string, script: Parameters<typeof startUploadServer>[0], extra: string[] = []) {
  const server = await startUploadServer(script);
  servers.push(server);
  const out = join(outRoot, name);
  const runner = startRunner([
    '--gadget', 'exec', '--duration', '1.5', '--cgroup', cg.path, '--out', out, '--trace-id', `tr-${name}`, '--node', 'node-u',
    '--upload-url', `${server.url}/v1/runner/traces/tr-${name}/nodes/node-u/result`, '--upload-backoff', '50ms', ...extra,
  ], { TRACEJOB_UPLOAD_TOKEN: `token-${name}` });
  await runner.waitForStep('session');
  await cg.run('/bin/sh', ['-c', `/bin/true ${name}-marker`]);
  const ended = await runner.exited;
  return { server, out, runner, ended };
}

test('uploads a tar.gz with events.ndjson and summary.json, with the node token', { skip }, async () => {
  const { server, out, runner, ended } = await traceAndUpload('ok', []);
  assert.equal(ended.code, 0, runner.stderr());
  assert.equal(server.received.length, 1);
  const req = server.received[0]!;
  assert.equal(req.method, 'PUT');
  assert.equal(req.url, '/v1/runner/traces/tr-ok/nodes/node-u/result');
  assert.equal(req.headers.authorization, 'Bearer token-ok');
  assert.equal(req.headers['content-type'], 'application/gzip');
  const entries = await untarGz(req.body);
  assert.deepEqual([...entries.keys()].sort(), ['events.ndjson', 'summary.json']);
  assert.equal(entries.get('events.ndjson')!.toString(), readFileSync(join(out, 'events.ndjson'), 'utf8'));
  assert.match(entries.get('events.ndjson')!.toString(), /ok-marker/);
  const summary = JSON.parse(entries.get('summary.json')!.toString()) as NodeSummary;
  assert.deepEqual(summary, readSummary(out));
  assert.equal(summary.traceId, 'tr-ok');
  assert.ok(summary.events >= 1);
});

test('a 503 is retried and the second attempt lands', { skip }, async () => {
  const { server, runner, ended } = await traceAndUpload('retry', [{ status: 503 }]);
  assert.equal(ended.code, 0, runner.stderr());
  assert.deepEqual(server.received.map((r) => r.status), [503, 200]);
  assert.equal((await untarGz(server.received[1]!.body)).size, 2);
  assert.ok(runner.logs.some((l) => l.step === 'upload' && l.attempt === 1 && /HTTP 503/.test(String(l.reason))), 'the retry is logged');
});

test('gives up after the attempts: exit 3, the reason logged, the files left on disk', { skip }, async () => {
  const failures = Array.from({ length: 10 }, () => ({ status: 500 }));
  const { server, out, runner, ended } = await traceAndUpload('fail', failures, ['--upload-attempts', '3']);
  assert.equal(ended.code, RUNNER_EXIT.uploadFailed, runner.stderr());
  assert.equal(server.received.length, 3);
  assert.match(runner.stderr(), /failed after 3 attempts: HTTP 500/);
  assert.ok(existsSync(join(out, 'events.ndjson')));
  assert.match(readFileSync(join(out, 'events.ndjson'), 'utf8'), /fail-marker/);
  assert.equal(readSummary(out).traceId, 'tr-fail');
});
