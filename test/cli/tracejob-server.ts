/**
 * A real all-in-one server for cross-component tests: `node bin/tracejob.js serve` on a free
 * loopback port with its own DATA_DIR (and its own private redis-server), stopped at the end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort } from '../../state/src/redis-server-process.ts';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TRACEJOB_BIN = join(REPO_ROOT, 'bin', 'tracejob.js');

export interface TracejobServer {
  url: string;
  dataDir: string;
  /** Server output so far (stderr + stdout), for failure messages. */
  output(): string;
  close(): Promise<void>;
}

export async function startTracejobServer(env: Record<string, string> = {}): Promise<TracejobServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tracejob-serve-'));
  const port = await freeLoopbackPort();
  let out = '';
  // TRACEJOB_TEST_SERVE_ARGV (JSON array) replaces `bin/tracejob.js serve`, e.g. to try a locally patched server.
  const argv = process.env.TRACEJOB_TEST_SERVE_ARGV ? (JSON.parse(process.env.TRACEJOB_TEST_SERVE_ARGV) as string[]) : [TRACEJOB_BIN, 'serve'];
  const child: ChildProcess = spawn(process.execPath, argv, {
    cwd: REPO_ROOT,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', NODE_NAME: 'cli-test-node', LOG_LEVEL: 'warn', REDIS_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tracejob serve exited with ${child.exitCode}:\n${out}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`tracejob serve did not become ready in 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    dataDir,
    output: () => out,
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
