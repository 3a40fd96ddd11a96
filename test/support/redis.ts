/**
 * A real redis-server for one test file: started on a free loopback port with its own data
 * directory (AOF on), stopped and removed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServerProcess } from '../../state/src/redis-server-process.ts';

export interface TestRedis extends RedisServerProcess {
  dir: string;
  /** A new client; closed by `close()`. */
  client(opts?: { maxRetriesPerRequest?: number | null }): Redis;
  /** Stop the server, close the clients, remove the data directory. */
  close(): Promise<void>;
}

export async function startTestRedis(opts: { appendfsync?: 'everysec' | 'always' } = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'tracejob-redis-'));
  const server = await startRedisServer({ dir, appendfsync: opts.appendfsync ?? 'always' });
  const clients: Redis[] = [];
  return {
    dir,
    url: server.url,
    port: server.port,
    get pid() {
      return server.pid;
    },
    stop: () => server.stop(),
    kill: () => server.kill(),
    start: () => server.start(),
    client(o: { maxRetriesPerRequest?: number | null } = {}) {
      const c = new Redis(server.url, { maxRetriesPerRequest: o.maxRetriesPerRequest === undefined ? null : o.maxRetriesPerRequest });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) c.disconnect();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
