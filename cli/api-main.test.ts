/** The API-only process (what the `api` Deployment runs), started as a real process on a real Redis. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestRedis, type TestRedis } from '../test/support/redis.ts';
import { freeLoopbackPort } from '../state/src/redis-server-process.ts';

const MAIN = fileURLToPath(new URL('./api-main.ts', import.meta.url));
let redis: TestRedis;
let dataDir: string;

before(async () => {
  redis = await startTestRedis();
  dataDir = mkdtempSync(join(tmpdir(), 'tracejob-api-main-'));
});
after(async () => {
  await redis.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function startApi(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, LOG_LEVEL: 'info', UPLOAD_TOKEN_SECRET: 'x'.repeat(32), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

test('serves the API on loopback against an external Redis, and stops on SIGTERM', async () => {
  const port = await freeLoopbackPort();
  const api = startApi({ REDIS_URL: redis.url, PORT: String(port), HOST: '127.0.0.1' });
  const base = `http://127.0.0.1:${port}`;
  // Ready when /readyz answers; gives up when the process exits (or after 2 minutes on a loaded machine).
  let ready = false;
  let exited = false;
  void api.exited.then(() => (exited = true));
  for (const end = Date.now() + 120_000; !ready && !exited && Date.now() < end; ) {
    try {
      ready = (await fetch(`${base}/readyz`)).status === 200;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  assert.ok(ready, `the API did not become ready:\n${api.output()}`);
  const post = await fetch(`${base}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ gadget: 'exec', durationSeconds: 5, target: { pids: [process.pid] } }),
  });
  assert.equal(post.status, 202, await post.clone().text());
  const { id } = (await post.json()) as { id: string };
  const got = (await (await fetch(`${base}/v1/traces/${id}`)).json()) as { status: string };
  assert.equal(got.status, 'queued', 'queued: no scheduler runs in this process');
  api.child.kill('SIGTERM');
  assert.equal(await api.exited, 0);
});

test('refuses to listen beyond loopback without authentication, naming the problem', async () => {
  const api = startApi({ REDIS_URL: redis.url, PORT: String(await freeLoopbackPort()), HOST: '0.0.0.0' });
  assert.equal(await api.exited, 2);
  assert.match(api.output(), /authentication/i);
});

test('refuses to start without REDIS_URL, naming the variable', async () => {
  const api = startApi({ PORT: String(await freeLoopbackPort()) });
  assert.equal(await api.exited, 2);
  assert.match(api.output(), /REDIS_URL/);
});
