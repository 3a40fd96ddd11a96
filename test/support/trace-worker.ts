/**
 * The scheduler's TraceWorker as tests and benches run it in-process: wired to an app fixture's
 * configuration and to Redis connections of its own, all closed together.
 */
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import type { RunnerBackend } from '../../scheduler/src/backend.ts';
import { TraceWorker } from '../../scheduler/src/trace-worker.ts';
import type { Config } from '../../state/src/config.ts';
import { TraceStore } from '../../state/src/trace-store.ts';

export interface TestTraceWorker {
  worker: TraceWorker;
  /** Stops the worker and drops its connections (the backend is the caller's to close). */
  close(): Promise<void>;
}

export async function startTestTraceWorker(o: {
  redisUrl: string;
  config: Readonly<Config>;
  backend: RunnerBackend;
  /** The API the runners upload to. */
  uploadUrl: string;
  concurrency?: number;
  lockSeconds?: number;
  logger?: Logger;
}): Promise<TestTraceWorker> {
  const connections: Redis[] = [];
  const conn = () => {
    const c = new Redis(o.redisUrl, { maxRetriesPerRequest: null });
    c.on('error', () => undefined);
    connections.push(c);
    return c;
  };
  const worker = new TraceWorker({
    connection: conn(),
    subscriber: conn(),
    traces: new TraceStore(conn(), o.config.retentionSeconds),
    backend: o.backend,
    uploadBaseUrl: () => o.uploadUrl,
    uploadTokenSecret: o.config.uploadTokenSecret,
    maxResultBytes: o.config.maxResultBytes,
    runnerGraceSeconds: o.config.runnerGraceSeconds,
    concurrency: o.concurrency ?? 2,
    lockSeconds: o.lockSeconds ?? 30,
    logger: o.logger ?? pino({ level: 'silent' }),
  });
  await worker.start();
  return {
    worker,
    async close() {
      await worker.close();
      for (const c of connections) c.disconnect();
    },
  };
}
