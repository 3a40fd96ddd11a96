/**
 * GET /v1/traces/:id/watch — Server-Sent Events of a trace's progress:
 *   event: status   (TraceProgress) whenever the trace changes, first one at once
 *   event: summary  (the merged summary) once the trace has ended
 *   event: end      ({status}) then the stream closes
 *   `: ping` comments every heartbeat interval, so proxies and clients see a live stream.
 * The trace store is polled at a short interval; a client that goes away stops the polling.
 */
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { isTerminal } from '../../../contracts/index.ts';
import { NotFoundError } from '../errors.ts';
import { TraceIdParamsSchema, errorResponses } from '../schemas/index.ts';
import type { ResultStore } from '../store/result-store.ts';
import { loadTraceSummary, traceProgressOf, type TraceReader } from './trace-progress.ts';

export interface TraceWatchOptions {
  traces: TraceReader;
  results: ResultStore;
  /** How often the trace store is read for changes (default 500 ms). */
  pollMs?: number;
  /** How often a `: ping` comment is sent (default 15 s). */
  heartbeatMs?: number;
}

function sse(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export default async function traceWatch(app: FastifyInstance, opts: TraceWatchOptions): Promise<void> {
  const pollMs = opts.pollMs ?? 500;
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const open = new Set<() => void>();
  app.addHook('onClose', async () => {
    for (const stop of [...open]) stop();
  });

  app.get<{ Params: Static<typeof TraceIdParamsSchema> }>(
    '/v1/traces/:id/watch',
    {
      schema: {
        summary: 'Live progress (Server-Sent Events): status events while the trace runs, then its summary',
        tags: ['traces'],
        params: TraceIdParamsSchema,
        response: { 200: { description: 'text/event-stream: events status, summary, end', type: 'string' }, ...errorResponses(400, 404) },
      },
    },
    async (req, reply) => {
      const id = req.params.id;
      let rec = await opts.traces.get(id);
      if (!rec) throw new NotFoundError(`no trace ${id} (it may have expired)`);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      res.write(`: watching trace ${id}\n\n`);
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      const heartbeat = setInterval(() => res.write(': ping\n\n'), heartbeatMs);
      const stop = () => {
        if (stopped) return;
        stopped = true;
        clearInterval(heartbeat);
        if (timer) clearTimeout(timer);
        open.delete(stop);
        res.end();
      };
      open.add(stop);
      req.raw.on('close', stop);
      res.on('close', stop);

      let planned: number | undefined;
      let last = '';
      const tick = async () => {
        timer = undefined;
        try {
          if (!rec) {
            sse(res, 'error', { error: 'not_found', message: `trace ${id} no longer exists` });
            return stop();
          }
          if (planned === undefined && opts.traces.plans) planned = (await opts.traces.plans(id))?.length;
          if (stopped) return;
          const progress = traceProgressOf(rec, planned, new Date());
          // elapsedSeconds changes every tick; send when anything else changed, or once a second while running.
          const { elapsedSeconds: _elapsed, ...rest } = progress;
          const key = JSON.stringify(rest) + (progress.status === 'running' ? Math.floor(progress.elapsedSeconds) : '');
          if (key !== last) {
            last = key;
            sse(res, 'status', progress);
          }
          if (isTerminal(rec.status)) {
            sse(res, 'summary', await loadTraceSummary(opts.results, id));
            sse(res, 'end', { status: rec.status });
            return stop();
          }
          timer = setTimeout(() => void next(), pollMs);
        } catch (err) {
          req.log.warn({ err }, 'watch stream failed');
          if (!stopped) sse(res, 'error', { error: 'internal', message: 'the server could not read the trace; reconnect to retry' });
          stop();
        }
      };
      const next = async () => {
        if (stopped) return;
        try {
          rec = await opts.traces.get(id);
        } catch (err) {
          req.log.warn({ err }, 'watch: reading the trace failed');
          timer = setTimeout(() => void next(), pollMs);
          return;
        }
        await tick();
      };
      await tick();
    },
  );
}
