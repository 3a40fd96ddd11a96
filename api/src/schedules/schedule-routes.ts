/**
 * /v1/schedules: traces that start themselves on a schedule. A schedule is a POST /v1/traces body
 * (`trace`, checked exactly as a trace would be, against the caller's policy) plus `every` or
 * `cron` (+ `timeZone`) and `keepRuns`. It is kept in Redis (ScheduleStore) and run by a BullMQ
 * job scheduler (state/src/schedule-queue.ts), whose jobs the scheduler turns into ordinary traces
 * linked to the schedule. Visibility is the trace's: a schedule of a namespace the caller may not
 * see answers 404, as its traces do.
 */
import { randomUUID } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TraceStatus, TraceTarget } from '../../../contracts/index.ts';
import { nextRunAt, removeScheduleJob, upsertScheduleJob, type ScheduleJobData } from '../../../state/src/schedule-queue.ts';
import type { ScheduleRecord, ScheduleSkips, ScheduleStore } from '../../../state/src/schedule-store.ts';
import { mayCreateTrace, maySeeTrace } from '../auth/policy.ts';
import { ForbiddenError, NotFoundError, RateLimitedError } from '../errors.ts';
import { TRACE_ID_PATTERN, TraceTargetSchema, errorResponses, traceRequestSchema, type SchemaLimits } from '../schemas/index.ts';
import { specFromRequest, type TraceRequestDeps } from '../trace-request.ts';
import { jobSchedulerRepeat, parseScheduleTiming } from './schedule-timing.ts';

export const DEFAULT_KEEP_RUNS = 20;
const MAX_KEEP_RUNS = 1000;

export function scheduleRequestSchema(limits: SchemaLimits) {
  return Type.Object(
    {
      trace: traceRequestSchema(limits),
      every: Type.Optional(Type.String({ minLength: 1, maxLength: 32, description: 'a fixed interval: 30s, 5m, 1h, 1h30m, 1d (at least SCHEDULE_MIN_INTERVAL)' })),
      cron: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'a cron pattern: 5 fields (minute first) or 6 (seconds first)' })),
      timeZone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone of the cron pattern, e.g. Europe/Paris (default UTC)' })),
      keepRuns: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_KEEP_RUNS, description: `runs listed with the schedule, newest first (default ${DEFAULT_KEEP_RUNS}); older runs' traces expire` })),
    },
    { additionalProperties: false },
  );
}
export type ScheduleRequest = Static<ReturnType<typeof scheduleRequestSchema>>;

const traceStatus = Type.String();

export const ScheduleViewSchema = Type.Object({
  id: Type.String(),
  owner: Type.String(),
  trace: Type.Object({
    gadget: Type.String(),
    durationSeconds: Type.Integer(),
    target: TraceTargetSchema,
    params: Type.Record(Type.String(), Type.Unknown()),
    limits: Type.Object({ maxEvents: Type.Integer() }),
    callbackUrl: Type.Optional(Type.String()),
  }),
  every: Type.Optional(Type.String()),
  cron: Type.Optional(Type.String()),
  timeZone: Type.Optional(Type.String()),
  keepRuns: Type.Integer(),
  createdAt: Type.String(),
  nextRunAt: Type.Optional(Type.String()),
  runs: Type.Optional(Type.Array(Type.Object({ traceId: Type.String(), status: Type.Optional(traceStatus), createdAt: Type.Optional(Type.String()) }), { description: 'newest first' })),
  skippedRuns: Type.Optional(Type.Integer({ description: "runs that did not start because the owner's or the server's maxConcurrentTraces was reached" })),
  lastSkipped: Type.Optional(Type.Object({ dueAt: Type.String(), reason: Type.String() }, { description: 'the newest skipped run' })),
  links: Type.Object({ self: Type.String() }),
});

export const ScheduleListSchema = Type.Object({ items: Type.Array(ScheduleViewSchema) });
export const ScheduleIdParamsSchema = Type.Object({ id: Type.String({ pattern: TRACE_ID_PATTERN }) });

export interface ScheduleRoutesOptions extends TraceRequestDeps {
  limits: SchemaLimits;
  schedules: ScheduleStore;
  queue: Queue<ScheduleJobData>;
  /** Run statuses for GET /v1/schedules/:id. */
  traces: { get(id: string): Promise<{ status: TraceStatus; createdAt: string } | undefined> };
  /** SCHEDULE_MIN_INTERVAL in ms. */
  minIntervalMs: number;
  /** Schedules one caller may have (a policy's maxSchedules overrides it). */
  maxSchedulesPerCaller: number;
}

function scheduleLinks(id: string) {
  return { self: `/v1/schedules/${id}` };
}

function scheduleView(rec: ScheduleRecord, extra: { nextRunAt?: number; runs?: { traceId: string; status?: string; createdAt?: string }[]; skips?: ScheduleSkips } = {}) {
  const { trace } = rec;
  const view: Static<typeof ScheduleViewSchema> = {
    id: rec.id,
    owner: rec.owner,
    trace: { gadget: trace.gadget, durationSeconds: trace.durationSeconds, target: trace.target, params: trace.params, limits: trace.limits },
    keepRuns: rec.keepRuns,
    createdAt: rec.createdAt,
    links: scheduleLinks(rec.id),
  };
  if (trace.callbackUrl) view.trace.callbackUrl = trace.callbackUrl;
  if (rec.every) view.every = rec.every;
  if (rec.cron) view.cron = rec.cron;
  if (rec.timeZone) view.timeZone = rec.timeZone;
  if (extra.nextRunAt) view.nextRunAt = new Date(extra.nextRunAt).toISOString();
  if (extra.runs) view.runs = extra.runs;
  if (extra.skips) {
    view.skippedRuns = extra.skips.skippedRuns;
    if (extra.skips.lastSkipped) view.lastSkipped = extra.skips.lastSkipped;
  }
  return view;
}

function maySee(req: FastifyRequest, target: TraceTarget): boolean {
  return !req.principal || maySeeTrace(req.principal.policy, target);
}

export async function scheduleRoutes(app: FastifyInstance, opts: ScheduleRoutesOptions): Promise<void> {
  const { schedules, queue } = opts;
  const requestSchema = scheduleRequestSchema(opts.limits);

  /** The schedule, or 404 when there is none or the caller may not see it (same answer: existence does not leak). */
  async function visible(req: FastifyRequest, id: string): Promise<ScheduleRecord> {
    const rec = await schedules.get(id);
    if (req.tracejobAudit) req.tracejobAudit.scheduleId = id;
    if (rec && req.tracejobAudit) req.tracejobAudit.target = rec.trace.target;
    if (!rec || !maySee(req, rec.trace.target)) {
      if (rec && req.tracejobAudit) req.tracejobAudit.reason = 'schedule is outside the caller\'s namespaces';
      throw new NotFoundError(`no schedule ${id}`);
    }
    return rec;
  }

  app.post<{ Body: ScheduleRequest }>(
    '/v1/schedules',
    {
      schema: {
        summary: 'Create a schedule: a trace that starts itself every interval or on a cron pattern',
        tags: ['schedules'],
        body: requestSchema,
        response: { 201: ScheduleViewSchema, ...errorResponses(400, 403, 422, 429, 503) },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const audit = req.tracejobAudit;
      if (audit) {
        audit.target = body.trace.target;
        audit.gadget = body.trace.gadget;
      }
      const timing = parseScheduleTiming(body, opts.minIntervalMs);
      const spec = await specFromRequest(body.trace, opts, 'trace.');
      const principal = req.principal;
      if (principal) {
        const d = mayCreateTrace(principal.policy, spec);
        if (!d.allowed) {
          if (audit) audit.reason = d.reason;
          throw new ForbiddenError(d.reason, `trace.${d.field}`);
        }
      }
      const owner = principal?.name ?? 'anonymous';
      const limit = principal?.policy.maxSchedules ?? opts.maxSchedulesPerCaller;
      const rec: ScheduleRecord = { id: randomUUID(), owner, trace: spec, keepRuns: body.keepRuns ?? DEFAULT_KEEP_RUNS, createdAt: new Date().toISOString() };
      // Each run takes the slots a POST by the owner would (limits as they are now).
      if (req.traceSlotScopes?.length) rec.slots = req.traceSlotScopes;
      if ('every' in timing) rec.every = timing.every;
      else {
        rec.cron = timing.cron;
        if (timing.timeZone) rec.timeZone = timing.timeZone;
      }
      const created = await schedules.create(rec, limit);
      if (created.kind === 'limit') {
        const reason = `${owner} already has ${created.count} schedules (limit ${limit})`;
        if (audit) audit.reason = reason;
        throw new RateLimitedError(`${reason}; delete one first`, 60);
      }
      if (audit) audit.scheduleId = rec.id;
      try {
        await upsertScheduleJob(queue, rec.id, jobSchedulerRepeat(timing));
      } catch (err) {
        await schedules.delete(rec.id).catch(() => undefined);
        throw err;
      }
      req.log.info({ scheduleId: rec.id, every: rec.every, cron: rec.cron, timeZone: rec.timeZone, gadget: spec.gadget }, 'schedule created');
      const next = await nextRunAt(queue, rec.id).catch(() => undefined);
      return reply
        .code(201)
        .header('location', scheduleLinks(rec.id).self)
        .send(scheduleView(rec, next ? { nextRunAt: next } : {}));
    },
  );

  app.get('/v1/schedules', { schema: { summary: 'List the schedules the caller may see, newest first', tags: ['schedules'], response: { 200: ScheduleListSchema } } }, async (req) => {
    const visibleOnes = (await schedules.list()).filter((r) => maySee(req, r.trace.target));
    const items = await Promise.all(
      visibleOnes.map(async (r) => {
        const next = await nextRunAt(queue, r.id).catch(() => undefined);
        return scheduleView(r, next ? { nextRunAt: next } : {});
      }),
    );
    return { items };
  });

  app.get<{ Params: Static<typeof ScheduleIdParamsSchema> }>(
    '/v1/schedules/:id',
    {
      schema: {
        summary: 'A schedule with its runs (trace ids, newest first) and its next run',
        tags: ['schedules'],
        params: ScheduleIdParamsSchema,
        response: { 200: ScheduleViewSchema, ...errorResponses(400, 404) },
      },
    },
    async (req) => {
      const rec = await visible(req, req.params.id);
      const ids = await schedules.runs(rec.id);
      const runs = await Promise.all(
        ids.map(async (traceId) => {
          const t = await opts.traces.get(traceId);
          return t ? { traceId, status: t.status, createdAt: t.createdAt } : { traceId };
        }),
      );
      const next = await nextRunAt(queue, rec.id).catch(() => undefined);
      return scheduleView(rec, { runs, skips: await schedules.skips(rec.id), ...(next ? { nextRunAt: next } : {}) });
    },
  );

  app.delete<{ Params: Static<typeof ScheduleIdParamsSchema> }>(
    '/v1/schedules/:id',
    {
      schema: {
        summary: 'Delete a schedule (its runs stay, as ordinary traces)',
        tags: ['schedules'],
        params: ScheduleIdParamsSchema,
        response: { 204: { description: 'deleted', type: 'null' }, ...errorResponses(400, 404) },
      },
    },
    async (req, reply) => {
      const rec = await visible(req, req.params.id);
      // The record first: a run due in between finds no schedule and removes the job scheduler itself.
      await schedules.delete(rec.id);
      await removeScheduleJob(queue, rec.id);
      req.log.info({ scheduleId: rec.id }, 'schedule deleted');
      return reply.code(204).send();
    },
  );
}
