import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const MODULE = fileURLToPath(new URL('./redis-server-process.ts', import.meta.url));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a private redis-server does not outlive its owner, even one killed with SIGKILL', { skip: existsSync('/usr/bin/setpriv') ? undefined : 'no setpriv (util-linux) on this machine' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tracejob-redis-owner-'));
  const script = `const { startRedisServer } = await import(${JSON.stringify(MODULE)});
const r = await startRedisServer({ dir: ${JSON.stringify(dir)} });
console.log(r.pid);
setInterval(() => {}, 1000);`;
  const owner = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = await new Promise<number>((resolve, reject) => {
    owner.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    owner.once('exit', (code) => reject(new Error(`the owner exited (${code}) before starting redis-server`)));
  });
  assert.ok(pid > 0 && alive(pid), 'redis-server runs');
  owner.kill('SIGKILL');
  for (let i = 0; i < 100 && alive(pid); i += 1) await sleep(50);
  const leftover = alive(pid);
  if (leftover) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  assert.equal(leftover, false, 'redis-server stopped when its owner died');
});
