/**
 * PUT /v1/traces/:id/nodes/:node/progress — a runner says its gadget is attached (`tracingSince`)
 * and, about once a second, how many events it kept and lost so far. The answer tells it whether
 * the trace was cancelled, so a cancel reaches a runner that no signal reached.
 */
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { requireRunnerToken } from '../auth/runner-token.ts';
import { NotFoundError } from '../errors.ts';
import { NodeProgressAnswerSchema, NodeProgressSchema, NodeResultParamsSchema, errorResponses } from '../schemas/index.ts';
import type { AppDeps } from '../app-deps.ts';

export function registerNodeProgressRoute(app: FastifyInstance, deps: AppDeps): void {
  const { config, traces } = deps;
  app.put<{ Params: Static<typeof NodeResultParamsSchema>; Body: Static<typeof NodeProgressSchema> }>(
    '/v1/traces/:id/nodes/:node/progress',
    {
      schema: {
        summary: "A runner reports that its gadget is attached and its live counts (Bearer upload token); the answer says whether to stop",
        tags: ['runner'],
        params: NodeResultParamsSchema,
        body: NodeProgressSchema,
        response: { 200: NodeProgressAnswerSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const { id, node } = req.params;
      requireRunnerToken(req.headers.authorization, config.uploadTokenSecret, id, node);
      const out = await traces.putNodeProgress(id, node, req.body);
      if (out === 'missing') throw new NotFoundError(`no trace ${id}`);
      return { cancelRequested: out === 'cancel' };
    },
  );
}
