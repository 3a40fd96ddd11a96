/**
 * A real S3-compatible server for one test file: MinIO (built by test/store/build-minio.sh and
 * cached under ${TRACEJOB_CACHE:-/var/cache/tracejob}/bin), started on a free loopback port with its
 * own data directory and credentials, its console bound to loopback too and switched off, no
 * update check. Ready when /minio/health/ready answers 200. Stopped and removed by close();
 * stop/start, kill and pause/resume (SIGSTOP: a store that accepts connections and never answers)
 * for the fault tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort } from '../../state/src/redis-server-process.ts';

const CACHE = process.env.TRACEJOB_CACHE || '/var/cache/tracejob';
export const MINIO_BINARY = join(CACHE, 'bin', 'minio');
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** Why object-store tests cannot run here, or undefined when they can. */
export function minioMissing(): string | undefined {
  return existsSync(MINIO_BINARY) ? undefined : `no MinIO at ${MINIO_BINARY}: run bash test/store/build-minio.sh (or scripts/build-test-binaries.sh)`;
}

export interface TestMinio {
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  dir: string;
  /** The API's environment for this server and `bucket` (RESULT_STORE=s3 and the S3_* variables). */
  env(bucket: string, extra?: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  /** Start again on the same port and data (after stop or kill); resolves when ready. */
  start(): Promise<void>;
  pause(): void;
  resume(): void;
  close(): Promise<void>;
}

async function waitReady(endpoint: string, proc: ChildProcess, output: () => string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`minio exited (${proc.exitCode ?? proc.signalCode}) before it was ready:\n${output().slice(-2000)}`);
    try {
      const res = await fetch(`${endpoint}/minio/health/ready`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`minio was not ready within ${timeoutMs} ms:\n${output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startTestMinio(): Promise<TestMinio> {
  const missing = minioMissing();
  if (missing) throw new Error(missing);
  const dir = mkdtempSync(join(tmpdir(), 'tracejob-minio-'));
  const port = await freeLoopbackPort();
  const consolePort = await freeLoopbackPort();
  const accessKeyId = `test${randomBytes(6).toString('hex')}`;
  const secretAccessKey = randomBytes(24).toString('base64url');
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = '';

  const launch = async () => {
    const args = ['server', join(dir, 'data'), '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'];
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      MINIO_ROOT_USER: accessKeyId,
      MINIO_ROOT_PASSWORD: secretAccessKey,
      MINIO_BROWSER: 'off',
      MINIO_UPDATE: 'off',
      MINIO_CALLHOME_ENABLE: 'off',
    };
    const proc = SETPRIV
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', '--', MINIO_BINARY, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env })
      : spawn(MINIO_BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    child = proc;
    output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-8000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    await waitReady(endpoint, proc, () => output);
  };

  const waitExit = (signal: NodeJS.Signals): Promise<void> =>
    new Promise((resolve) => {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      if (signal !== 'SIGCONT') proc.kill('SIGCONT');
      proc.kill(signal);
    });

  await launch();
  return {
    endpoint,
    port,
    accessKeyId,
    secretAccessKey,
    dir,
    env(bucket, extra = {}) {
      return {
        RESULT_STORE: 's3',
        S3_ENDPOINT: endpoint,
        S3_BUCKET: bucket,
        S3_REGION: 'us-east-1',
        S3_ACCESS_KEY_ID: accessKeyId,
        S3_SECRET_ACCESS_KEY: secretAccessKey,
        S3_FORCE_PATH_STYLE: 'true',
        ...extra,
      };
    },
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
    start: launch,
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async close() {
      await waitExit('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
