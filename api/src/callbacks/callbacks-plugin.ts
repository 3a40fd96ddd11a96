/**
 * Completion callbacks: a trace created with `callbackUrl` gets, when it ends, a signed POST of
 * `{id, status, gadget, trigger, finishedAt, nodes, summary, links}` (see callback-signature.ts), retried
 * with backoff, only to allowed hosts.
 *
 * Registered at the root (skip-override) so its hooks see POST /v1/traces: a disallowed
 * `callbackUrl` is refused with 400 naming the field before the trace is created, and an accepted
 * trace with a callback is added to the durable pending set of the CompletionNotifier.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { lostEventsOf } from '../../../contracts/index.ts';
import type { TraceRecord } from '../../../state/src/trace-store.ts';
import { checkCallbackUrl } from '../auth/callback-url.ts';
import { InvalidError } from '../errors.ts';
import type { ResultStore } from '../store/result-store.ts';
import { traceLinks } from '../trace-view.ts';
import { loadTraceSummary, type TraceReader } from '../watch/trace-progress.ts';
import type { CallbackConfig } from './callback-config.ts';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, signCallback } from './callback-signature.ts';
import { CompletionNotifier, type DeliveryResult, type PendingNotice } from './completion-notifier.ts';
import { postJson } from './post-json.ts';

export interface CompletionCallbacksOptions {
  config: Readonly<CallbackConfig>;
  redis: Redis;
  traces: TraceReader;
  results: ResultStore;
  /** Base URL for absolute links in the payload (PUBLIC_URL); relative links when unset. */
  publicUrl?: string;
  pollMs?: number;
}

export const CALLBACK_PENDING_KEY = 'tj:notify:callback';

/** The body POSTed to a callback URL. */
export async function callbackPayload(trace: TraceRecord, results: ResultStore, publicUrl?: string) {
  const links = Object.fromEntries(Object.entries(traceLinks(trace.id)).map(([k, v]) => [k, (publicUrl ?? '') + v]));
  return {
    id: trace.id,
    status: trace.status,
    gadget: trace.spec.gadget,
    /** The alert or schedule that started the trace, when one did. */
    trigger: trace.spec.trigger,
    createdAt: trace.createdAt,
    startedAt: trace.startedAt,
    finishedAt: trace.finishedAt,
    error: trace.error,
    // Lost events make the trace partial; the count is here too so a receiver need not add it up.
    lostEvents: lostEventsOf(trace.nodes),
    nodes: trace.nodes,
    summary: await loadTraceSummary(results, trace.id),
    links,
  };
}

export function deliverCallback(config: Readonly<CallbackConfig>, results: ResultStore, publicUrl?: string) {
  return async (notice: PendingNotice, trace: TraceRecord, attempt: number): Promise<DeliveryResult> => {
    // Checked again at delivery: the allow-list may have changed since the trace was created.
    const check = checkCallbackUrl(notice.url, { allowedHosts: config.allowedHosts, allowHttp: config.allowHttp });
    if (!check.ok) return { ok: false, retryable: false, error: `callbackUrl ${check.reason}` };
    if (!config.signingSecret) return { ok: false, retryable: false, error: 'CALLBACK_SIGNING_SECRET is not set' };
    const body = JSON.stringify(await callbackPayload(trace, results, publicUrl));
    const timestamp = String(Math.floor(Date.now() / 1000));
    const out = await postJson(
      notice.url,
      body,
      { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signCallback(config.signingSecret, timestamp, body), 'x-tracejob-delivery-attempt': String(attempt) },
      config.timeoutMs,
    );
    return out.ok ? { ok: true } : { ok: false, retryable: out.retryable, error: out.error ?? 'failed' };
  };
}

function isCreateTrace(req: FastifyRequest): boolean {
  return req.method === 'POST' && req.routeOptions.url === '/v1/traces';
}

async function completionCallbacks(app: FastifyInstance, opts: CompletionCallbacksOptions): Promise<void> {
  const { config } = opts;
  const notifier = new CompletionNotifier({
    redis: opts.redis,
    traces: opts.traces,
    key: CALLBACK_PENDING_KEY,
    deliver: deliverCallback(config, opts.results, opts.publicUrl),
    log: app.log.child({ component: 'callbacks' }),
    pollMs: opts.pollMs ?? 1000,
    maxAttempts: config.maxAttempts,
    retryBaseMs: config.retryBaseMs,
  });

  app.addHook('preHandler', async (req: FastifyRequest) => {
    if (!isCreateTrace(req)) return;
    const url = (req.body as { callbackUrl?: unknown } | undefined)?.callbackUrl;
    if (typeof url !== 'string') return;
    if (!config.signingSecret) throw new InvalidError('callbackUrl', 'callbackUrl: callbacks are not enabled on this server (CALLBACK_SIGNING_SECRET is not set)');
    const check = checkCallbackUrl(url, { allowedHosts: config.allowedHosts, allowHttp: config.allowHttp });
    if (!check.ok) throw new InvalidError('callbackUrl', `callbackUrl: ${check.reason}${config.allowedHosts.length === 0 ? ' (CALLBACK_ALLOWED_HOSTS is empty)' : ''}`);
  });

  app.addHook('onSend', async (req: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (!isCreateTrace(req) || reply.statusCode !== 202) return payload;
    const url = (req.body as { callbackUrl?: unknown } | undefined)?.callbackUrl;
    if (typeof url !== 'string' || typeof payload !== 'string') return payload;
    const { id, status } = JSON.parse(payload) as { id: string; status: string };
    // A replayed idempotent request answers with the existing trace: adding it again is harmless
    // (the pending set holds one member per trace and URL).
    if (status !== 'cancelled') await notifier.add({ traceId: id, url });
    return payload;
  });

  app.addHook('onReady', async () => notifier.start());
  app.addHook('onClose', async () => notifier.stop());
}

// Hooks apply to the whole app (what fastify-plugin does with this symbol).
(completionCallbacks as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;
export default completionCallbacks;
