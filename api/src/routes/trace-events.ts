/**
 * /v1/traces/:id/events (NDJSON stream or JSON pages) and /v1/traces/:id/top (top-N counts of a
 * field): filtered by node, pod, container, comm, a time range and equality on any field of the
 * trace gadget's events; answered from the columnar copy written at ingest. And
 * /v1/traces/:id/nodes/:node/events: one node's NDJSON as uploaded, resumable (Range, If-Range).
 */
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { InvalidError, NotFoundError } from '../errors.ts';
import { EventsPageSchema, EventsQuerySchema, NodeResultParamsSchema, TopAnswerSchema, TopQuerySchema, TraceIdParamsSchema, errorResponses } from '../schemas/index.ts';
import { sendResumable } from './byte-ranges.ts';
import { columnsFor, type ColumnSpec } from '../store/columnar-events.ts';
import { InvalidEventCursorError, eventsNdjson, eventsPage, eventsTop, pageJson } from '../store/event-pages.ts';
import { parseEventQuery } from '../store/event-query.ts';
import type { AppDeps } from '../app-deps.ts';

export function registerTraceEventRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { traces, results, gadgets } = deps;
  const engine = deps.columnarEngine;

  async function traceAndColumns(id: string): Promise<ColumnSpec[]> {
    const rec = await traces.get(id);
    if (!rec) throw new NotFoundError(`no trace ${id} (it may have expired)`);
    return columnsFor(gadgets.get(rec.spec.gadget)?.fields ?? []);
  }

  app.get<{ Params: Static<typeof TraceIdParamsSchema>; Querystring: Static<typeof EventsQuerySchema> }>(
    '/v1/traces/:id/events',
    {
      schema: {
        summary: "Events: NDJSON stream, or a JSON page when limit or cursor is given; filter by node, pod, container, comm, since/until or any field of the gadget's events",
        tags: ['traces'],
        params: TraceIdParamsSchema,
        querystring: EventsQuerySchema,
        response: { 200: { description: 'application/x-ndjson stream, or a JSON page', ...EventsPageSchema }, ...errorResponses(400, 404) },
      },
    },
    async (req, reply) => {
      const columns = await traceAndColumns(req.params.id);
      const { limit, cursor } = req.query;
      const q = parseEventQuery(req.query, columns, ['limit', 'cursor']);
      if (limit !== undefined || cursor !== undefined) {
        try {
          const page = await eventsPage(results, engine, req.params.id, q, limit ?? 1000, cursor);
          return reply.type('application/json').serializer((s: string) => s).send(pageJson(page));
        } catch (err) {
          if (err instanceof InvalidEventCursorError) throw new InvalidError('cursor', `cursor: ${err.message}`);
          throw err;
        }
      }
      return reply.type('application/x-ndjson').send(await eventsNdjson(results, engine, req.params.id, q));
    },
  );

  app.get<{ Params: Static<typeof NodeResultParamsSchema> }>(
    '/v1/traces/:id/nodes/:node/events',
    {
      schema: {
        summary: "One node's events.ndjson exactly as uploaded, with a strong ETag: a cut download resumes with Range (+ If-Range)",
        tags: ['traces'],
        params: NodeResultParamsSchema,
        response: {
          200: { description: 'application/x-ndjson', type: 'string', format: 'binary' },
          206: { description: 'the requested bytes of the file', type: 'string', format: 'binary' },
          ...errorResponses(400, 404, 416, 503),
        },
      },
    },
    async (req, reply) => {
      const { id, node } = req.params;
      await traceAndColumns(id);
      const events = await results.events(id, node);
      if (!events) throw new NotFoundError(`trace ${id} has no result for node ${node}`);
      void reply.type('application/x-ndjson').header('content-disposition', `attachment; filename="trace-${id}-${node}.ndjson"`);
      if (req.headers['if-none-match'] === events.etag) return reply.header('etag', events.etag).header('accept-ranges', 'bytes').code(304).send();
      return sendResumable(reply, req.headers, { etag: events.etag, size: events.size, read: (start, end) => events.read(start, end) });
    },
  );

  app.get<{ Params: Static<typeof TraceIdParamsSchema>; Querystring: Static<typeof TopQuerySchema> }>(
    '/v1/traces/:id/top',
    {
      schema: {
        summary: 'The most frequent values of one field among the (filtered) events, with their counts',
        tags: ['traces'],
        params: TraceIdParamsSchema,
        querystring: TopQuerySchema,
        response: { 200: TopAnswerSchema, ...errorResponses(400, 404) },
      },
    },
    async (req, reply) => {
      const columns = await traceAndColumns(req.params.id);
      const { field, limit } = req.query;
      if (!columns.some((c) => c.name === field)) {
        throw new InvalidError('field', `field: ${JSON.stringify(field)} is not a field of these events (fields: ${columns.map((c) => c.name).join(', ')})`);
      }
      const q = parseEventQuery(req.query, columns, ['field', 'limit']);
      const top = await eventsTop(results, engine, req.params.id, q, field, limit ?? 10);
      const items = top.map((t) => `{"value":${t.valueJson},"count":${t.count}}`).join(',');
      return reply.type('application/json').serializer((s: string) => s).send(`{"field":${JSON.stringify(field)},"items":[${items}]}`);
    },
  );
}
