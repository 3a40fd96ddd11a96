/**
 * A runner without the privileges to load BPF (uid nobody): it exits 1, and the summary — written
 * and still uploaded — says why, so the user sees the kernel's refusal rather than an empty result.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { RUNNER_EXIT, type NodeSummary } from '../contracts/index.ts';
import { kernelTestSkipReason } from './support/cgroups.ts';
import { startUploadServer, untarGz, type UploadServer } from './runner-upload-server.ts';
import { readSummary, startRunner } from './runner-process.ts';

const skip = kernelTestSkipReason() ?? (existsSync('/usr/bin/setpriv') ? undefined : 'needs setpriv (util-linux) to drop to uid nobody');
const dirs: string[] = [];
let server: UploadServer | undefined;
after(async () => {
  await server?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('no BPF privileges: exit 1, summary with stop reason error and the kernel refusal, still uploaded', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tracejob-runner-noperm-'));
  dirs.push(dir);
  chmodSync(dir, 0o777);
  const out = join(dir, 'out');
  server = await startUploadServer();
  const asNobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
  const runner = startRunner(
    ['--gadget', 'exec', '--duration', '5', '--all', '--out', out, '--upload-url', `${server.url}/r`, '--upload-token', 't'],
    { HOME: dir },
    asNobody,
  );
  const { code } = await runner.exited;
  assert.equal(code, RUNNER_EXIT.failure, runner.stderr());
  const summary = readSummary(out);
  assert.equal(summary.stopReason, 'error');
  assert.match(summary.error ?? '', /not permitted|EPERM/);
  assert.equal(server.received.length, 1, 'the failed result is uploaded too');
  const uploaded = JSON.parse((await untarGz(server.received[0]!.body)).get('summary.json')!.toString()) as NodeSummary;
  assert.equal(uploaded.stopReason, 'error');
});
