/**
 * POST /v1/hooks/alertmanager: Alertmanager's webhook (payload version 4). Alertmanager
 * authenticates with `Authorization: Bearer` from its receiver's http_config, which the access
 * control maps to an API token and its policy like any other caller. Each alert of the payload is
 * decided on its own, in order:
 *
 *   resolved → ignored · no rule matches → ignored · no usable target in its labels → refused ·
 *   the token's policy forbids the trace → refused · same alert (rule + fingerprint) within the
 *   dedup window → duplicate · rule or global rate limit, or the token's maxConcurrentTraces →
 *   rate-limited · else the trace starts.
 *
 * Every decision is answered in the body and audited (action `alert.trigger`); the trace records
 * the alert it came from (spec.trigger), which its callback and Slack summary name. Alertmanager
 * only retries on 5xx, so a payload whose alerts were refused is still answered 200.
 */
import { randomUUID } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AlertTrigger, TraceSpec } from '../../../contracts/index.ts';
import { enqueueTrace, type TraceJobData } from '../../../state/src/trace-queue.ts';
import type { TraceStore } from '../../../state/src/trace-store.ts';
import { mayCreateTrace } from '../auth/policy.ts';
import type { Config } from '../../../state/src/config.ts';
import type { GadgetCatalogue } from '../gadget-catalogue.ts';
import type { TracejobMetrics } from '../metrics.ts';
import { UnavailableError } from '../errors.ts';
import { ConcurrencySlots, RESERVATION_MS, slotRefusal, TRACE_SLOT_MS } from '../../../state/src/concurrency-slots.ts';
import { errorResponses } from '../schemas/index.ts';
import { AlertAdmission } from './alert-admission.ts';
import { ruleFor, targetFromLabels, type AlertRules } from './alert-rules.ts';

export const ALERTMANAGER_ROUTE = '/v1/hooks/alertmanager';
/** Last-resort expiry of an alert trace's concurrency slot (freed as soon as the trace ends). */

const LabelSet = Type.Record(Type.String({ maxLength: 256 }), Type.String({ maxLength: 4096 }), { maxProperties: 128 });

const WebhookAlertSchema = Type.Object({
  status: Type.Union([Type.Literal('firing'), Type.Literal('resolved')]),
  labels: LabelSet,
  annotations: Type.Optional(LabelSet),
  startsAt: Type.Optional(Type.String({ maxLength: 64 })),
  endsAt: Type.Optional(Type.String({ maxLength: 64 })),
  generatorURL: Type.Optional(Type.String({ maxLength: 2048 })),
  fingerprint: Type.String({ pattern: '^[0-9a-f]{1,32}$', description: "Alertmanager's fingerprint of the alert's labels" }),
});

/** Alertmanager's webhook body, version 4 (fields tracejob does not use are accepted as they come). */
export const AlertmanagerPayloadSchema = Type.Object({
  version: Type.Literal('4', { description: 'webhook payload version: 4' }),
  groupKey: Type.Optional(Type.String({ maxLength: 4096 })),
  truncatedAlerts: Type.Optional(Type.Integer({ minimum: 0 })),
  status: Type.Union([Type.Literal('firing'), Type.Literal('resolved')]),
  receiver: Type.String({ maxLength: 256 }),
  groupLabels: Type.Optional(LabelSet),
  commonLabels: Type.Optional(LabelSet),
  commonAnnotations: Type.Optional(LabelSet),
  externalURL: Type.Optional(Type.String({ maxLength: 2048 })),
  alerts: Type.Array(WebhookAlertSchema, { maxItems: 1000 }),
});
export type AlertmanagerPayload = Static<typeof AlertmanagerPayloadSchema>;

export const ALERT_DECISIONS = ['started', 'duplicate', 'resolved', 'no-rule', 'no-target', 'forbidden', 'rate-limited', 'unavailable'] as const;
export type AlertDecisionKind = (typeof ALERT_DECISIONS)[number];

const AlertDecisionSchema = Type.Object({
  fingerprint: Type.String(),
  alertname: Type.Optional(Type.String()),
  rule: Type.Optional(Type.String()),
  decision: Type.Unsafe<AlertDecisionKind>({ type: 'string', enum: [...ALERT_DECISIONS] }),
  traceId: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
});
export type AlertDecision = Static<typeof AlertDecisionSchema>;

export const AlertHookAnswerSchema = Type.Object({ decisions: Type.Array(AlertDecisionSchema) });

export interface AlertmanagerHookOptions {
  rules: AlertRules;
  redis: Redis;
  traces: Pick<TraceStore, 'create'>;
  queue: Queue<TraceJobData>;
  queueDepth: () => Promise<number>;
  gadgets: GadgetCatalogue;
  metrics: TracejobMetrics;
  config: Pick<Config, 'backend' | 'defaultDurationSeconds' | 'maxEventsPerNode' | 'maxQueuedTraces'>;
}

/** Labels kept on the trace: all of them, bounded (they are the alert's identity for the reader). */
function boundedLabels(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels)
      .slice(0, 64)
      .map(([k, v]) => [k, v.slice(0, 512)]),
  );
}

export async function alertmanagerHook(app: FastifyInstance, opts: AlertmanagerHookOptions): Promise<void> {
  const admission = new AlertAdmission(opts.redis);
  const slots = new ConcurrencySlots(opts.redis);
  const { rules, config } = opts;

  app.post<{ Body: AlertmanagerPayload }>(
    ALERTMANAGER_ROUTE,
    {
      schema: {
        summary: "Alertmanager webhook receiver (payload version 4): firing alerts that match a rule start traces",
        tags: ['alerts'],
        body: AlertmanagerPayloadSchema,
        response: { 200: AlertHookAnswerSchema, ...errorResponses(400, 401, 403, 413, 429, 503) },
      },
    },
    async (req) => {
      const principal = req.principal;
      const decisions: AlertDecision[] = [];
      for (const alert of req.body.alerts) {
        const d: AlertDecision = { fingerprint: alert.fingerprint, decision: 'resolved' };
        const alertname = alert.labels.alertname;
        if (alertname !== undefined) d.alertname = alertname.slice(0, 256);
        decisions.push(d);
        if (alert.status === 'resolved') {
          d.reason = 'resolved alerts start nothing';
          continue;
        }
        const rule = ruleFor(rules, alert.labels);
        if (!rule) {
          d.decision = 'no-rule';
          d.reason = 'no rule matches the alert';
          continue;
        }
        d.rule = rule.name;
        const target = targetFromLabels(alert.labels);
        if (!target.ok) {
          d.decision = 'no-target';
          d.reason = target.reason;
          continue;
        }
        if (config.backend !== 'kubernetes') {
          d.decision = 'no-target';
          d.reason = 'alerts name Kubernetes targets (namespace, pod); this server runs the local backend';
          continue;
        }
        const { problems, params } = opts.gadgets.validateParams(rule.gadget, rule.params);
        if (problems.length > 0) {
          d.decision = 'no-target';
          d.reason = `rule ${rule.name}: params.${problems[0]!.field}: ${problems[0]!.message}`;
          continue;
        }
        const trigger: AlertTrigger = { kind: 'alert', rule: rule.name, fingerprint: alert.fingerprint, labels: boundedLabels(alert.labels) };
        if (d.alertname !== undefined) trigger.alertname = d.alertname;
        if (alert.startsAt) trigger.startsAt = alert.startsAt;
        if (alert.generatorURL) trigger.generatorURL = alert.generatorURL;
        const spec: TraceSpec = {
          gadget: rule.gadget,
          durationSeconds: rule.durationSeconds ?? config.defaultDurationSeconds,
          target: target.target,
          params,
          limits: { maxEvents: Math.min(rule.maxEvents ?? config.maxEventsPerNode, config.maxEventsPerNode) },
          trigger,
        };
        // The rule acts for the caller: it may not trace what the caller's token may not.
        if (principal) {
          const allowed = mayCreateTrace(principal.policy, spec);
          if (!allowed.allowed) {
            d.decision = 'forbidden';
            d.reason = allowed.reason;
            continue;
          }
        }
        if ((await opts.queueDepth()) >= config.maxQueuedTraces) {
          d.decision = 'rate-limited';
          d.reason = `too many traces waiting (${config.maxQueuedTraces})`;
          continue;
        }
        const traceId = randomUUID();
        const admitted = await admission.admit({
          rule: rule.name,
          fingerprint: alert.fingerprint,
          traceId,
          dedupWindowSeconds: rules.dedupWindowSeconds,
          ...(rule.rateLimit ? { ruleLimit: rule.rateLimit } : {}),
          ...(rules.rateLimit ? { globalLimit: rules.rateLimit } : {}),
        });
        if (admitted.kind === 'duplicate') {
          d.decision = 'duplicate';
          d.traceId = admitted.traceId;
          d.reason = `the same alert started trace ${admitted.traceId} within the last ${rules.dedupWindowSeconds}s`;
          continue;
        }
        // The token's and the server's maxConcurrentTraces count alert traces too (the same slots as POST /v1/traces).
        const scopes = req.traceSlotScopes ?? [];
        if (admitted.kind === 'admitted' && scopes.length > 0) {
          // a reservation until the trace record exists (a bare trace id without a record is pruned)
          const slot = await slots.acquire(scopes, `r:${traceId}`, RESERVATION_MS);
          if (!slot.ok) {
            await admission.release({ rule: rule.name, fingerprint: alert.fingerprint, traceId });
            d.decision = 'rate-limited';
            d.reason = slotRefusal(slot, principal?.name ?? 'the caller');
            continue;
          }
        }
        if (admitted.kind !== 'admitted') {
          d.decision = 'rate-limited';
          d.reason =
            admitted.kind === 'rule-rate-limited'
              ? `rule ${rule.name} started ${rule.rateLimit!.traces} traces in ${rule.rateLimit!.windowSeconds}s; next in ${admitted.retryAfterSeconds}s`
              : `alerts started ${rules.rateLimit!.traces} traces in ${rules.rateLimit!.windowSeconds}s; next in ${admitted.retryAfterSeconds}s`;
          continue;
        }
        try {
          await opts.traces.create(traceId, spec);
          await enqueueTrace(opts.queue, traceId);
        } catch (err) {
          await admission.release({ rule: rule.name, fingerprint: alert.fingerprint, traceId }).catch(() => undefined);
          if (scopes.length > 0) await slots.release(scopes, `r:${traceId}`).catch(() => undefined);
          req.log.error({ err, fingerprint: alert.fingerprint }, 'could not start the trace of an alert');
          d.decision = 'unavailable';
          d.reason = 'the trace could not be recorded or queued; Alertmanager will send the alert again';
          continue;
        }
        if (scopes.length > 0) await slots.commit(scopes, `r:${traceId}`, traceId, TRACE_SLOT_MS);
        opts.metrics.traces.inc({ status: 'queued' });
        d.decision = 'started';
        d.traceId = traceId;
        req.log.info({ traceId, rule: rule.name, fingerprint: alert.fingerprint, alertname: d.alertname, target: spec.target }, 'trace started by an alert');
      }
      if (req.tracejobAudit) req.tracejobAudit.alertDecisions = decisions;
      // Alertmanager retries only on 5xx: ask for the retry when a trace could not be recorded
      // (the ones that did start are duplicates on the retry).
      if (decisions.some((d) => d.decision === 'unavailable')) throw new UnavailableError('a trace could not be recorded or queued (Redis); retry later');
      return { decisions };
    },
  );
}
