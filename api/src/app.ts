/**
 * The Fastify app: routes, one error handler, OpenAPI at /docs. Built from its dependencies so the
 * all-in-one mode, the API process and the tests assemble it the same way.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Queue } from 'bullmq';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Redis } from 'ioredis';
import type { TraceTarget } from '../../contracts/index.ts';
import type { TraceJobData } from '../../state/src/trace-queue.ts';
import type { TraceStore } from '../../state/src/trace-store.ts';
import type { Config } from '../../state/src/config.ts';
import { httpErrorOf } from './errors.ts';
import type { GadgetCatalogue } from './gadget-catalogue.ts';
import type { TracejobMetrics } from './metrics.ts';
import { requestValidatorCompiler } from './request-validator.ts';
import { registerGadgetRoutes } from './routes/gadgets.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerNodeProgressRoute } from './routes/node-progress.ts';
import { registerTraceRoutes } from './routes/traces.ts';
import { registerUploadRoutes } from './routes/uploads.ts';
import type { ResultStore } from './store/result-store.ts';
import { registerUserFacingPlugins } from './watch/user-facing-plugins.ts';

export interface AppDeps {
  config: Readonly<Config>;
  redis: Redis;
  queue: Queue<TraceJobData>;
  queueDepth: () => Promise<number>;
  traces: TraceStore;
  results: ResultStore;
  gadgets: GadgetCatalogue;
  metrics: TracejobMetrics;
  /** Synchronous target check where the API can know (local backend): throws NoMatchingTargetError. */
  checkTarget?: (target: TraceTarget) => Promise<void>;
  /** false: the caller registers the watch, callback, Slack and /ui plugins itself (their own tests). Default true. */
  userFacingPlugins?: boolean;
}

export async function buildApp(deps: AppDeps, logger: FastifyServerOptions['logger'] | FastifyServerOptions['loggerInstance'] = false): Promise<FastifyInstance> {
  const loggerOpts: FastifyServerOptions =
    logger && typeof logger === 'object' && 'child' in logger ? { loggerInstance: logger as FastifyServerOptions['loggerInstance'] } : { logger: logger as FastifyServerOptions['logger'] };
  const app = Fastify({ ...loggerOpts, bodyLimit: 1024 * 1024, return503OnClosing: true }) as unknown as FastifyInstance;
  app.setValidatorCompiler(requestValidatorCompiler());

  // Every line of a trace's requests carries its id.
  app.addHook('preHandler', async (req) => {
    const id = (req.params as { id?: string } | undefined)?.id;
    if (id) req.log = req.log.child({ traceId: id });
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body, retryAfter } = httpErrorOf(err);
    if (status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ status, error: body.error, field: body.field }, body.message);
    if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
    return reply.code(status).type('application/json').serializer(JSON.stringify).send(body);
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).type('application/json').send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` }),
  );

  await app.register(swagger, {
    openapi: {
      info: { title: 'tracejob', version: '0.1.0', description: 'Timed BPF traces of workloads as jobs' },
      tags: [{ name: 'traces' }, { name: 'gadgets' }, { name: 'runner' }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  registerHealthRoutes(app, deps);
  registerGadgetRoutes(app, deps);
  registerTraceRoutes(app, deps);
  registerUploadRoutes(app, deps);
  registerNodeProgressRoute(app, deps);
  if (deps.userFacingPlugins !== false) await registerUserFacingPlugins(app, deps);
  return app;
}
