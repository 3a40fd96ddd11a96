/**
 * The Fastify app as a plugin: first the external plugins (OpenAPI at /docs), then the app's own
 * (request validation, trace-id logging, the one error handler), then the routes. `buildApp`
 * creates the server and registers it, so the all-in-one mode, the API process and the tests
 * assemble it the same way. Routes take their dependencies from app-deps.ts, never from here.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import type { AppDeps } from './app-deps.ts';
import { httpErrorOf } from './errors.ts';
import { requestValidatorCompiler } from './request-validator.ts';
import { alertmanagerHook } from './alerts/alertmanager-hook.ts';
import { registerGadgetRoutes } from './routes/gadgets.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerNodeProgressRoute } from './routes/node-progress.ts';
import { registerTraceEventRoutes } from './routes/trace-events.ts';
import { registerTraceRoutes } from './routes/traces.ts';
import { registerProfileRoutes } from './routes/profile.ts';
import { registerUploadRoutes } from './routes/uploads.ts';
import { scheduleRoutes } from './schedules/schedule-routes.ts';
import { registerUserFacingPlugins } from './watch/user-facing-plugins.ts';

export type { AppDeps } from './app-deps.ts';

async function externalPlugins(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: { title: 'tracejob', version: '0.1.0', description: 'Timed BPF traces of workloads as jobs' },
      tags: [{ name: 'traces' }, { name: 'schedules' }, { name: 'alerts' }, { name: 'gadgets' }, { name: 'runner' }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}

function appPlugins(app: FastifyInstance): void {
  app.setValidatorCompiler(requestValidatorCompiler());

  // Every line of a trace's requests carries its id.
  app.addHook('preHandler', async (req) => {
    const id = (req.params as { id?: string } | undefined)?.id;
    if (id) req.log = req.log.child({ traceId: id });
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body, retryAfter, contentRange } = httpErrorOf(err);
    if (status >= 500) req.log.error({ err }, 'request failed');
    else req.log.info({ status, error: body.error, field: body.field }, body.message);
    if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
    if (contentRange !== undefined) void reply.header('content-range', contentRange);
    return reply.code(status).type('application/json').serializer(JSON.stringify).send(body);
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).type('application/json').send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` }),
  );
}

async function routes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  registerHealthRoutes(app, deps);
  registerGadgetRoutes(app, deps);
  registerTraceRoutes(app, deps);
  registerProfileRoutes(app, deps);
  registerTraceEventRoutes(app, deps);
  registerUploadRoutes(app, deps);
  registerNodeProgressRoute(app, deps);
  if (deps.alertRules) {
    await alertmanagerHook(app, {
      rules: deps.alertRules,
      redis: deps.redis,
      traces: deps.traces,
      queue: deps.queue,
      queueDepth: deps.queueDepth,
      gadgets: deps.gadgets,
      metrics: deps.metrics,
      config: deps.config,
    });
  }
  if (deps.schedules) {
    await scheduleRoutes(app, {
      config: deps.config,
      gadgets: deps.gadgets,
      ...(deps.checkTarget ? { checkTarget: deps.checkTarget } : {}),
      limits: deps.config,
      schedules: deps.schedules.store,
      queue: deps.schedules.queue,
      traces: deps.traces,
      minIntervalMs: deps.config.scheduleMinIntervalSeconds * 1000,
      maxSchedulesPerCaller: deps.config.scheduleMaxPerCaller,
    });
  }
  if (deps.userFacingPlugins !== false) await registerUserFacingPlugins(app, deps);
}

/** The app, not encapsulated (fastify-plugin): its error handler and hooks apply to what the caller registers next (security). */
export const tracejobApp = fp<AppDeps>(
  async (app, deps) => {
    await externalPlugins(app);
    appPlugins(app);
    await routes(app, deps);
  },
  { name: 'tracejob-app', fastify: '5.x' },
);

export async function buildApp(deps: AppDeps, logger: FastifyServerOptions['logger'] | FastifyServerOptions['loggerInstance'] = false): Promise<FastifyInstance> {
  const loggerOpts: FastifyServerOptions =
    logger && typeof logger === 'object' && 'child' in logger ? { loggerInstance: logger as FastifyServerOptions['loggerInstance'] } : { logger: logger as FastifyServerOptions['logger'] };
  const app = Fastify({ ...loggerOpts, bodyLimit: 1024 * 1024, return503OnClosing: true }) as unknown as FastifyInstance;
  await app.register(tracejobApp, deps);
  return app;
}
