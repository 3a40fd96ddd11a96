/** GET /v1/gadgets — the catalogue with each gadget's params and event fields. */
import type { FastifyInstance } from 'fastify';
import { GadgetListSchema } from '../schemas/index.ts';
import type { AppDeps } from '../app-deps.ts';

export function registerGadgetRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get('/v1/gadgets', { schema: { summary: 'The gadget catalogue', tags: ['gadgets'], response: { 200: GadgetListSchema } } }, async () => ({
    items: deps.gadgets.list(),
  }));
}
