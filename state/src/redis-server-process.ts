/**
 * A private redis-server child process on a free loopback port, data under `dir` (AOF on).
 * Used by the all-in-one mode when no REDIS_URL is given, and by tests (test/support/redis.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';

export interface RedisServerProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** Graceful stop (SHUTDOWN semantics on SIGTERM: the AOF is flushed). */
  stop(): Promise<void>;
  /** Hard kill (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Start again on the same port and directory (after stop or kill). */
  start(): Promise<void>;
}

export interface RedisServerOptions {
  dir: string;
  port?: number;
  /** everysec (default) or always (every write is on disk before the reply). */
  appendfsync?: 'everysec' | 'always';
  binary?: string;
  /** Lines of redis-server output, for logs. */
  onOutput?: (line: string) => void;
}

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * util-linux's setpriv, when present: it execs redis-server (same pid) with a parent-death signal,
 * so that a redis-server whose owner was killed (SIGKILL, OOM) is stopped too, not left behind.
 */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

export async function startRedisServer(opts: RedisServerOptions): Promise<RedisServerProcess> {
  mkdirSync(opts.dir, { recursive: true });
  const port = opts.port ?? (await freeLoopbackPort());
  let child: ChildProcess | undefined;

  const launch = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const args = [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--dir', opts.dir,
        '--appendonly', 'yes',
        '--appendfsync', opts.appendfsync ?? 'everysec',
        '--save', '',
        '--daemonize', 'no',
        '--protected-mode', 'yes',
        '--maxmemory-policy', 'noeviction',
      ];
      const binary = opts.binary ?? 'redis-server';
      // SIGTERM on the owner's death: redis-server flushes its AOF and exits.
      const proc = SETPRIV
        ? spawn(SETPRIV, ['--pdeathsig', 'TERM', '--', binary, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      let output = '';
      let ready = false;
      const onData = (d: Buffer) => {
        const text = d.toString();
        for (const line of text.split('\n')) if (line.trim()) opts.onOutput?.(line);
        if (!ready) {
          output += text;
          if (output.includes('Ready to accept connections')) {
            ready = true;
            output = '';
            resolve();
          }
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('error', (err) => reject(new Error(`could not start redis-server: ${err.message} (is redis-server installed?)`)));
      proc.once('exit', (code, signal) => {
        if (!ready) reject(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${output.slice(-2000)}`));
      });
    });

  const waitExit = (proc: ChildProcess, signal: NodeJS.Signals): Promise<void> =>
    new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.pid;
    },
    async stop() {
      if (child) await waitExit(child, 'SIGTERM');
    },
    async kill() {
      if (child) await waitExit(child, 'SIGKILL');
    },
    start: launch,
  };
}
