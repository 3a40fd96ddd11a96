/**
 * The API process on its own (what the `api` Deployment runs), started from the sources as a child
 * process for the tests that need real replicas: its own DATA_DIR, the environment given, ready
 * when it logs its URL. Killed and its directory removed by close(). Tests only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRepoRoot } from '../../bpf/src/repo-paths.ts';

const repoRoot = findRepoRoot();
/** The API-only entry point. */
export const API_MAIN = join(repoRoot, 'cli', 'api-main.ts');

export interface ApiProcess {
  url: string;
  pid: number;
  dataDir: string;
  /** Everything it printed (pino JSON lines). */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
  close(): Promise<void>;
}

export interface ApiProcessOptions {
  env: Record<string, string>;
  /** V8 heap cap in MiB (--max-old-space-size). */
  heapMiB?: number;
  readyTimeoutMs?: number;
}

export async function startApiProcess(opts: ApiProcessOptions): Promise<ApiProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tracejob-api-process-'));
  const args = [...(opts.heapMiB ? [`--max-old-space-size=${opts.heapMiB}`] : []), '--import', 'tsx', API_MAIN];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dataDir, TRACEJOB_FROM_SOURCE: '1', HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'info', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the API process was not ready in time:\n${output.slice(-3000)}`)), opts.readyTimeoutMs ?? 120_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const m = /tracejob API ready on (http:\/\/[^\s"]+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the API process exited (${code ?? signal}) before it was ready:\n${output.slice(-3000)}`));
    });
  });
  child.removeAllListeners('exit');
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    url,
    pid: child.pid!,
    dataDir,
    output: () => output,
    kill,
    async close() {
      await kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
