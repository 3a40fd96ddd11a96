/** PUT /v1/traces/:id/nodes/:node/result — a runner uploads its node's result (tar.gz). */
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Readable } from 'node:stream';
import { requireRunnerToken } from '../auth/runner-token.ts';
import { isTerminal } from '../../../contracts/index.ts';
import { ConflictError, NotFoundError, PayloadTooLargeError } from '../errors.ts';
import { NodeResultParamsSchema, UploadAcceptedSchema, errorResponses } from '../schemas/index.ts';
import { columnsFor } from '../store/columnar-events.ts';
import type { AppDeps } from '../app-deps.ts';

const UPLOAD_TYPES = ['application/gzip', 'application/x-gzip', 'application/octet-stream'];

export function registerUploadRoutes(app: FastifyInstance, deps: AppDeps): void {
  const { config, traces, results, metrics, gadgets } = deps;

  app.register(async (scope) => {
    // The body stays a stream: the handler writes it to disk with its own size cap.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(UPLOAD_TYPES, (_req, payload, done) => done(null, payload));

    scope.put<{ Params: Static<typeof NodeResultParamsSchema> }>(
      '/v1/traces/:id/nodes/:node/result',
      {
        schema: {
          summary: "A runner uploads its node's result: tar.gz with events.ndjson and summary.json (Bearer upload token)",
          tags: ['runner'],
          params: NodeResultParamsSchema,
          response: { 201: UploadAcceptedSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 415, 503) },
        },
      },
      async (req, reply) => {
        const { id, node } = req.params;
        requireRunnerToken(req.headers.authorization, config.uploadTokenSecret, id, node);
        const rec = await traces.get(id);
        if (!rec) throw new NotFoundError(`no trace ${id}`);
        // A node the scheduler gave up (lost, timed out) when the trace ended does not come back
        // with a late result: the trace's status and counts were reported without it.
        const given = rec.nodes.find((n) => n.node === node);
        if (isTerminal(rec.status) && given?.status === 'failed' && !given.uploaded) {
          throw new ConflictError(`node ${node} was given up when trace ${id} ended (${given.error ?? 'failed'}); its result comes too late to count`, 'node');
        }
        const declared = Number(req.headers['content-length']);
        if (Number.isFinite(declared) && declared > config.maxResultBytes) {
          throw new PayloadTooLargeError(`the upload is larger than ${config.maxResultBytes} bytes (MAX_RESULT_BYTES)`);
        }
        let stored;
        try {
          const columns = columnsFor(gadgets.get(rec.spec.gadget)?.fields ?? []);
          stored = await results.saveNodeUpload(id, node, req.body as Readable, config.maxResultBytes, { gadget: rec.spec.gadget, columns });
        } catch (err) {
          metrics.uploads.inc({ outcome: 'refused' });
          throw err;
        }
        const { summary } = stored;
        const counts = {
          events: summary.events,
          lostEvents: summary.lostEvents,
          truncated: Boolean(summary.truncated),
          bytes: stored.bytes,
          uploadedAt: new Date().toISOString(),
          ...(summary.stopReason ? { stopReason: summary.stopReason } : {}),
          ...(summary.error ? { error: summary.error } : {}),
        };
        if (!(await traces.putNodeResult(id, node, counts))) {
          await results.deleteTrace(id);
          throw new NotFoundError(`trace ${id} was deleted while its result was uploading`);
        }
        metrics.uploads.inc({ outcome: 'stored' });
        metrics.uploadBytes.inc(stored.bytes);
        metrics.events.inc(summary.events);
        metrics.lostEvents.inc(summary.lostEvents);
        req.log.info({ traceId: id, node, events: summary.events, lostEvents: summary.lostEvents, bytes: stored.bytes }, 'node result stored');
        return reply.code(201).send({ traceId: id, node, events: summary.events, bytes: stored.bytes });
      },
    );
  });
}
