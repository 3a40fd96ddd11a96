/** /healthz (the process answers), /readyz (Redis reachable), /metrics (Prometheus). */
import type { FastifyInstance } from 'fastify';
import { UnavailableError } from '../errors.ts';
import type { AppDeps } from '../app-deps.ts';

export function registerHealthRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/readyz', { schema: { hide: true } }, async () => {
    try {
      await Promise.race([
        deps.redis.ping(),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 1000).unref()),
      ]);
    } catch (err) {
      throw new UnavailableError(`Redis is not reachable: ${(err as Error).message}`);
    }
    return { ok: true };
  });
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
    const body = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(body);
  });
}
