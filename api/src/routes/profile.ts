/** GET /v1/traces/:id/profile: the merged folded stacks of a `profile` trace (filter by node, pod, container). */
import type { Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../errors.ts';
import { ProfileJsonSchema, ProfileQuerySchema, TraceIdParamsSchema, errorResponses } from '../schemas/index.ts';
import { mergedProfile, profileSvg } from '../store/profile-stacks.ts';
import type { AppDeps } from '../app-deps.ts';

export function registerProfileRoutes(app: FastifyInstance, deps: Pick<AppDeps, 'traces' | 'results'>): void {
  app.get<{ Params: Static<typeof TraceIdParamsSchema>; Querystring: Static<typeof ProfileQuerySchema> }>(
    '/v1/traces/:id/profile',
    {
      schema: {
        summary: 'A profile trace: folded stacks merged across nodes (text/plain), as JSON, or as a flame graph (SVG)',
        tags: ['traces'],
        params: TraceIdParamsSchema,
        querystring: ProfileQuerySchema,
        response: { 200: { description: 'text/plain folded stacks, JSON or SVG', ...ProfileJsonSchema }, ...errorResponses(400, 404) },
      },
    },
    async (req, reply) => {
      const rec = await deps.traces.get(req.params.id);
      if (!rec) throw new NotFoundError(`no trace ${req.params.id} (it may have expired)`);
      if (rec.spec.gadget !== 'profile') throw new NotFoundError(`trace ${rec.id} is a ${rec.spec.gadget} trace: only profile traces have a profile`);
      const { node, pod, container, format } = req.query;
      const profile = await mergedProfile(deps.results, rec.id, { node, pod, container });
      if (format === 'json') {
        const stacks = [...profile.stacks.counts].sort((a, b) => b[1] - a[1]).map(([stack, samples]) => ({ stack, samples }));
        return reply.type('application/json').serializer(JSON.stringify).send({ traceId: rec.id, samples: profile.stacks.samples, stacks, summary: profile.summary });
      }
      if (format === 'svg') return reply.type('image/svg+xml').serializer(String).send(profileSvg(profile, `profile of trace ${rec.id}`));
      return reply.type('text/plain; charset=utf-8').serializer(String).send(profile.stacks.text());
    },
  );
}
