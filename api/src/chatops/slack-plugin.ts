/**
 * POST /v1/chatops/slack — the Slack slash command (`/trace …`).
 *
 * The raw form body's signature (X-Slack-Signature over `v0:timestamp:body`, 5-minute window) is
 * checked before anything else, and a signature is accepted once (replays within the window are
 * refused). The Slack user is mapped to a tracejob API token and scopes (chatops-config.ts); the
 * command runs through the API's own routes with that token (same validation, auth and limits);
 * the answer is immediate and ephemeral. When a started trace ends, its summary is POSTed to the
 * command's response_url by a durable CompletionNotifier (Redis key tj:notify:slack).
 */
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import { isTerminal } from '../../../contracts/index.ts';
import type { TraceRecord } from '../../../state/src/trace-store.ts';
import { checkCallbackUrl } from '../auth/callback-url.ts';
import { verifySlackSignature, SLACK_REPLAY_WINDOW_SECONDS } from '../auth/slack-signature.ts';
import { CompletionNotifier, type DeliveryResult, type PendingNotice } from '../callbacks/completion-notifier.ts';
import { postJson } from '../callbacks/post-json.ts';
import type { ResultStore } from '../store/result-store.ts';
import { loadTraceSummary, type TraceReader } from '../watch/trace-progress.ts';
import { grantOf, type SlackConfig, type SlackScope } from './chatops-config.ts';
import { parseSlackCommand, slackHelp, type SlackCommand } from './slack-command-parser.ts';
import { describeTarget, ephemeral, traceEndMessage, traceProgressMessage, type SlackMessage, type TraceFacts, type TraceLinks } from './slack-messages.ts';

/** The slash-command route; it authenticates by Slack's signature, not by a bearer token. */
export const SLACK_ROUTE = '/v1/chatops/slack';

export interface SlackChatopsOptions {
  config: Readonly<SlackConfig>;
  redis: Redis;
  traces: TraceReader;
  results: ResultStore;
  /** Base URL users reach tracejob at (PUBLIC_URL): links to the bundle and the trace page. */
  publicUrl?: string;
  pollMs?: number;
  maxAttempts?: number;
  retryBaseMs?: number;
}

export const SLACK_PENDING_KEY = 'tj:notify:slack';

const NEEDED_SCOPE: Record<Exclude<SlackCommand['kind'], 'help' | 'invalid'>, SlackScope> = { run: 'run', status: 'read', cancel: 'cancel' };

function linksOf(publicUrl: string | undefined, id: string): TraceLinks {
  if (!publicUrl) return {};
  return { bundle: `${publicUrl}/v1/traces/${id}/bundle`, page: `${publicUrl}/ui/trace.html?id=${id}` };
}

function factsOf(view: Record<string, unknown>): TraceFacts {
  return view as unknown as TraceFacts;
}

function factsOfRecord(rec: TraceRecord): TraceFacts {
  const f: TraceFacts = { id: rec.id, status: rec.status, gadget: rec.spec.gadget, durationSeconds: rec.spec.durationSeconds, target: rec.spec.target as unknown as Record<string, unknown>, nodes: rec.nodes };
  if (rec.spec.trigger) f.trigger = rec.spec.trigger;
  if (rec.error) f.error = rec.error;
  return f;
}

export default async function slackChatops(app: FastifyInstance, opts: SlackChatopsOptions): Promise<void> {
  const { config } = opts;
  const responseUrlPolicy = { allowedHosts: config.responseUrlHosts, allowHttp: config.responseUrlAllowHttp };

  const notifier = new CompletionNotifier({
    redis: opts.redis,
    traces: opts.traces,
    key: SLACK_PENDING_KEY,
    log: app.log.child({ component: 'slack' }),
    pollMs: opts.pollMs ?? 1000,
    maxAttempts: opts.maxAttempts ?? 5,
    retryBaseMs: opts.retryBaseMs ?? 2000,
    async deliver(notice: PendingNotice, trace: TraceRecord): Promise<DeliveryResult> {
      const check = checkCallbackUrl(notice.url, responseUrlPolicy);
      if (!check.ok) return { ok: false, retryable: false, error: `response_url ${check.reason}` };
      const summary = await loadTraceSummary(opts.results, trace.id);
      const message = { ...traceEndMessage(factsOfRecord(trace), summary, linksOf(opts.publicUrl, trace.id)), replace_original: false };
      const out = await postJson(notice.url, JSON.stringify(message), {}, 10_000);
      return out.ok ? { ok: true } : { ok: false, retryable: out.retryable, error: out.error ?? 'failed' };
    },
  });
  app.addHook('onReady', async () => notifier.start());
  app.addHook('onClose', async () => notifier.stop());

  // The signature covers the body exactly as sent: keep it as a string, parse it after the check.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));

  /** Runs a request through the API's own routes as the mapped user. */
  async function asUser(token: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) {
    const res = await app.inject({ method, url, headers: { authorization: `Bearer ${token}`, ...headers }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
    let body: Record<string, unknown> = {};
    try {
      body = res.json() as Record<string, unknown>;
    } catch {
      /* empty body */
    }
    return { status: res.statusCode, body };
  }

  function apiProblem(what: string, res: { status: number; body: Record<string, unknown> }): SlackMessage {
    const message = typeof res.body.message === 'string' ? res.body.message : `HTTP ${res.status}`;
    if (res.status === 401 || res.status === 403) return ephemeral(`:lock: tracejob refused to ${what}: ${message}. Your Slack user is mapped to a token that may not do this; ask your tracejob admin.`);
    if (res.status === 404) return ephemeral(`I can't find that trace: ${message}.`);
    if (res.status === 429) return ephemeral(`:hourglass: tracejob is busy (${message}). Please try again in a moment.`);
    if (res.status >= 500) return ephemeral(`:warning: tracejob could not ${what} (${message}). Please try again later.`);
    return ephemeral(`I couldn't ${what}: ${message}`);
  }

  app.post(
    SLACK_ROUTE,
    { schema: { summary: 'Slack slash command (signed form post from Slack)', tags: ['chatops'], hide: false } },
    async (req, reply) => {
      if (!config.signingSecret) {
        return reply.code(503).send({ error: 'unavailable', message: 'Slack chat-ops is not configured on this server (SLACK_SIGNING_SECRET)' });
      }
      const raw = typeof req.body === 'string' ? req.body : '';
      const header = (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      const signature = header('x-slack-signature');
      const check = verifySlackSignature(config.signingSecret, header('x-slack-request-timestamp'), raw, signature);
      if (!check.ok) {
        req.log.warn({ reason: check.reason }, 'slack request refused: bad signature');
        return reply.code(401).send({ error: 'unauthorized', message: `Slack request signature ${check.reason === 'stale' ? 'timestamp is outside the 5-minute window' : check.reason}` });
      }
      // A signature is good for one request: a captured request replayed within the window is refused.
      const seenKey = `tj:slack-seen:${createHash('sha256').update(signature!).digest('hex')}`;
      if ((await opts.redis.set(seenKey, '1', 'EX', SLACK_REPLAY_WINDOW_SECONDS * 2, 'NX')) !== 'OK') {
        req.log.warn('slack request refused: replayed');
        return reply.code(401).send({ error: 'unauthorized', message: 'Slack request was already received (replay)' });
      }

      const form = new URLSearchParams(raw);
      const slash = form.get('command') || '/trace';
      const userId = form.get('user_id') ?? undefined;
      const teamId = form.get('team_id') ?? undefined;
      const responseUrl = form.get('response_url') ?? '';
      const log = req.log.child({ slackUser: userId, slackTeam: teamId });

      const grant = grantOf(config, teamId, userId);
      if (!grant) {
        log.info('slack user without a tracejob mapping');
        return ephemeral(
          `Sorry${userId ? ` <@${userId}>` : ''}, you are not set up to use tracejob yet. Ask your tracejob admin to map your Slack user \`${userId ?? '?'}\` to an API token.`,
        );
      }
      const command = parseSlackCommand(form.get('text') ?? '', slash);
      if (command.kind === 'help') return ephemeral(slackHelp(slash));
      if (command.kind === 'invalid') return ephemeral(command.reply);
      const needed = NEEDED_SCOPE[command.kind];
      if (!grant.scopes.includes(needed)) {
        return ephemeral(`Sorry, your tracejob mapping does not allow \`${command.kind}\` (it needs the \`${needed}\` scope; you have ${grant.scopes.map((s) => `\`${s}\``).join(', ') || 'none'}).`);
      }

      if (command.kind === 'run') {
        const request: Record<string, unknown> = { gadget: command.gadget, target: command.target };
        if (command.durationSeconds !== undefined) request.durationSeconds = command.durationSeconds;
        if (Object.keys(command.params).length > 0) request.params = command.params;
        if (command.maxEvents !== undefined) request.limits = { maxEvents: command.maxEvents };
        const trigger = form.get('trigger_id');
        const res = await asUser(grant.token, 'POST', '/v1/traces', request, trigger ? { 'idempotency-key': `slack-${trigger}` } : {});
        if (res.status !== 202) return apiProblem('start the trace', res);
        const id = String(res.body.id);
        const canFollowUp = responseUrl !== '' && checkCallbackUrl(responseUrl, responseUrlPolicy).ok;
        if (canFollowUp) await notifier.add({ traceId: id, url: responseUrl });
        else log.warn({ traceId: id }, 'response_url missing or not allowed; no follow-up');
        const duration = command.durationSeconds ?? '(default)';
        log.info({ traceId: id }, 'trace started from Slack');
        return ephemeral(
          `:mag: Tracing \`${command.gadget}\` on ${describeTarget(command.target)} for ${duration}${typeof duration === 'number' ? 's' : ''} — trace \`${id}\`.\n` +
            (canFollowUp ? "I'll post the summary here when it ends." : `I can't post back here; ask with \`${slash} status ${id}\`.`),
        );
      }

      const res = await asUser(grant.token, 'GET', `/v1/traces/${command.id}`);
      if (res.status !== 200) return apiProblem(command.kind === 'status' ? 'read the trace' : 'cancel the trace', res);
      const facts = factsOf(res.body);
      if (command.kind === 'status') {
        if (!isTerminal(facts.status as never)) return traceProgressMessage(facts);
        return traceEndMessage(facts, await loadTraceSummary(opts.results, command.id), linksOf(opts.publicUrl, command.id));
      }
      if (isTerminal(facts.status as never)) return ephemeral(`Trace \`${command.id}\` has already ended (*${facts.status}*); nothing to cancel.`);
      const del = await asUser(grant.token, 'DELETE', `/v1/traces/${command.id}`);
      if (del.status !== 202) return apiProblem('cancel the trace', del);
      return ephemeral(
        del.body.status === 'cancelled'
          ? `:no_entry_sign: Trace \`${command.id}\` cancelled before it started.`
          : `:no_entry_sign: Cancelling trace \`${command.id}\`; what it saw so far is kept and the summary follows.`,
      );
    },
  );
}
