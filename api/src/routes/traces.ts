/** /v1/traces: create, list, read, bundle, cancel/delete (events and top: trace-events.ts). */
import { randomUUID } from 'node:crypto';
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { enqueueTrace, removeQueuedTrace } from '../../../state/src/trace-queue.ts';
import { InvalidCursorError, requestHash } from '../../../state/src/trace-store.ts';
import { ConflictError, InvalidError, NotFoundError, RateLimitedError } from '../errors.ts';
import {
  CancelAnswerSchema,
  IdempotencyHeadersSchema,
  TraceAcceptedSchema,
  TraceIdParamsSchema,
  TraceListQuerySchema,
  TraceListSchema,
  TraceViewSchema,
  errorResponses,
  traceRequestSchema,
  type TraceRequest,
} from '../schemas/index.ts';
import { openBundle } from '../store/bundle.ts';
import { sendResumable } from './byte-ranges.ts';
import { specFromRequest } from '../trace-request.ts';
import { traceLinks, traceView } from '../trace-view.ts';
import type { AppDeps } from '../app-deps.ts';

export function registerTraceRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { config, traces, queue, results, metrics } = deps;
  const requestSchema = traceRequestSchema(config);
  let depth = { value: 0, at: 0 };

  async function queuedNow(): Promise<number> {
    if (Date.now() - depth.at > 1000) depth = { value: await deps.queueDepth(), at: Date.now() };
    return depth.value;
  }

  app.post<{ Body: TraceRequest; Headers: Static<typeof IdempotencyHeadersSchema> }>(
    '/v1/traces',
    {
      schema: {
        summary: 'Queue a trace',
        tags: ['traces'],
        body: requestSchema,
        headers: IdempotencyHeadersSchema,
        response: { 202: TraceAcceptedSchema, ...errorResponses(400, 409, 422, 429, 503) },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const spec = await specFromRequest(body, deps);
      const key = req.headers['idempotency-key'];
      if ((await queuedNow()) >= config.maxQueuedTraces) {
        throw new RateLimitedError(`too many traces waiting (${config.maxQueuedTraces}); retry later`, 5);
      }
      const outcome = await traces.create(randomUUID(), spec, key ? { key, requestHash: requestHash(body) } : undefined);
      if (outcome.kind === 'conflict') {
        throw new ConflictError(`Idempotency-Key ${JSON.stringify(key)} was used for another request (trace ${outcome.id})`, 'Idempotency-Key');
      }
      // Adding is a no-op when the job exists (job id = trace id); re-adding on a replay heals a
      // POST that died between recording the trace and queueing it.
      const status = outcome.kind === 'created' ? 'queued' : ((await traces.status(outcome.id)) ?? 'queued');
      if (status === 'queued') await enqueueTrace(queue, outcome.id);
      if (outcome.kind === 'created') {
        metrics.traces.inc({ status: 'queued' });
        req.log.info({ traceId: outcome.id, gadget: spec.gadget, durationSeconds: spec.durationSeconds }, 'trace queued');
      }
      const links = traceLinks(outcome.id);
      return reply.code(202).header('location', links.self).send({ id: outcome.id, status, links });
    },
  );

  app.get<{ Querystring: Static<typeof TraceListQuerySchema> }>(
    '/v1/traces',
    { schema: { summary: 'List traces, newest first', tags: ['traces'], querystring: TraceListQuerySchema, response: { 200: TraceListSchema, ...errorResponses(400) } } },
    async (req) => {
      const q = req.query;
      try {
        const page = await traces.list({ limit: q.limit ?? 50, cursor: q.cursor, status: q.status, gadget: q.gadget });
        return { items: page.items.map(traceView), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
      } catch (err) {
        if (err instanceof InvalidCursorError) throw new InvalidError('cursor', `cursor: ${err.message}`);
        throw err;
      }
    },
  );

  async function mustGet(id: string) {
    const rec = await traces.get(id);
    if (!rec) throw new NotFoundError(`no trace ${id} (it may have expired)`);
    return rec;
  }

  app.get<{ Params: Static<typeof TraceIdParamsSchema> }>(
    '/v1/traces/:id',
    { schema: { summary: 'A trace: status, per-node status, counts, timings', tags: ['traces'], params: TraceIdParamsSchema, response: { 200: TraceViewSchema, ...errorResponses(400, 404) } } },
    async (req) => traceView(await mustGet(req.params.id)),
  );

  app.get<{ Params: Static<typeof TraceIdParamsSchema> }>(
    '/v1/traces/:id/bundle',
    {
      schema: {
        summary:
          'The trace bundle: tar.gz with manifest.json, summary.json, nodes/<node>/events.ndjson. Strong ETag; a cut download resumes with Range + If-Range once the length is known (Content-Length given)',
        tags: ['traces'],
        params: TraceIdParamsSchema,
        response: {
          200: { description: 'application/gzip (tar)', type: 'string', format: 'binary' },
          206: { description: 'the requested bytes of the bundle', type: 'string', format: 'binary' },
          ...errorResponses(400, 404, 416, 503),
        },
      },
    },
    async (req, reply) => {
      const rec = await mustGet(req.params.id);
      const bundle = await openBundle(results, rec);
      void reply.type('application/gzip').header('content-disposition', `attachment; filename="trace-${rec.id}.tar.gz"`);
      // Without a length a Range cannot be answered: a client then gets the whole bundle again.
      return sendResumable(reply, req.headers, { etag: bundle.etag, size: bundle.length, read: (start, end) => bundle.stream(start, end) });
    },
  );

  app.delete<{ Params: Static<typeof TraceIdParamsSchema> }>(
    '/v1/traces/:id',
    {
      schema: {
        summary: 'Cancel a queued or running trace (202), or delete a finished trace and its results (204)',
        tags: ['traces'],
        params: TraceIdParamsSchema,
        response: { 202: CancelAnswerSchema, 204: { description: 'deleted', type: 'null' }, ...errorResponses(400, 404) },
      },
    },
    async (req, reply) => {
      const id = req.params.id;
      const rec = await mustGet(id);
      if (rec.status === 'queued' || rec.status === 'running') {
        const out = await traces.requestCancel(id);
        if (out.kind === 'missing') throw new NotFoundError(`no trace ${id}`);
        if (out.kind === 'cancelled') {
          await removeQueuedTrace(queue, id);
          metrics.traceFinished('cancelled', undefined);
          req.log.info({ traceId: id }, 'queued trace cancelled');
          return reply.code(202).send({ id, status: 'cancelled', cancelRequested: true });
        }
        const status = out.kind === 'finished' ? out.status : 'running';
        req.log.info({ traceId: id, status }, 'cancel requested');
        return reply.code(202).send({ id, status, cancelRequested: true });
      }
      await traces.delete(id);
      await results.deleteTrace(id);
      req.log.info({ traceId: id }, 'trace and results deleted');
      return reply.code(204).send();
    },
  );
}
