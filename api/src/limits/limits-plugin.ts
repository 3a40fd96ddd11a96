/**
 * Fastify plugin for the request limits:
 * - onRequest: rate limit per caller (token/policy name; client address in open mode or on public
 *   routes) → 429 with Retry-After;
 * - preParsing: body size per route (JSON routes: `jsonBodyLimitBytes`, default 64 KiB) → 413,
 *   by Content-Length and by counting the bytes of chunked bodies; the runner upload keeps its own
 *   cap (MAX_RESULT_BYTES);
 * - preHandler, POST /v1/traces: a slot per caller (`maxConcurrentTraces` of its policy) and in
 *   total (`limits.maxConcurrentTraces`) → 429; committed to the trace id on 202, released
 *   otherwise, and freed when the trace ends (see concurrency-slots.ts);
 * - the runner upload: one result per node (409 unless a retry of the same upload).
 */
import { randomUUID } from 'node:crypto';
import { pipeline, type Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { verifyUploadToken } from '../../../state/src/upload-token.ts';
import { ConflictError, InvalidError, PayloadTooLargeError, RateLimitedError } from '../errors.ts';
import type { GlobalLimits } from '../auth/access-policy.ts';
import { ROUTES } from '../auth/request-context.ts';
import { byteCap } from '../store/upload-archive.ts';
import { ConcurrencySlots, RESERVATION_MS, slotRefusal, TRACE_SLOT_MS, traceSlotScopes, type SlotScope } from '../../../state/src/concurrency-slots.ts';
import { RateLimiter } from './rate-limiter.ts';
import { digestCheck, UPLOAD_ID_PATTERN, UploadOnce, type UploadIdentity } from './upload-once.ts';

export const DEFAULT_JSON_BODY_LIMIT = 64 * 1024;

export interface LimitsOptions {
  redis: Redis;
  limits: GlobalLimits;
  uploadTokenSecret: string;
  /** Seconds a node's upload record is kept (the trace's retention). */
  retentionSeconds: number;
  /** Public routes (chat-ops) are rate-limited per client address with `defaultRateLimit`. */
  publicRoutes?: readonly string[];
}

interface LimitsState {
  reservation?: string;
  scopes?: SlotScope[];
  upload?: UploadIdentity & { traceId: string; node: string };
}

const state = new WeakMap<FastifyRequest, LimitsState>();

function stateOf(req: FastifyRequest): LimitsState {
  let s = state.get(req);
  if (!s) state.set(req, (s = {}));
  return s;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

export async function requestLimits(app: FastifyInstance, opts: LimitsOptions): Promise<void> {
  const rate = new RateLimiter(opts.redis);
  const slots = new ConcurrencySlots(opts.redis);
  const uploads = new UploadOnce(opts.redis, opts.retentionSeconds + 24 * 3600);
  const jsonLimit = opts.limits.jsonBodyLimitBytes ?? DEFAULT_JSON_BODY_LIMIT;
  const publicRoutes = opts.publicRoutes ?? [];

  app.decorateRequest('traceSlotScopes', null);

  app.addHook('onRequest', async (req, reply) => {
    const url = req.routeOptions.url;
    const principal = req.principal;
    let caller: string | undefined;
    let policy = opts.limits.defaultRateLimit;
    if (principal && principal.via !== 'open') {
      caller = `p:${principal.name}`;
      policy = principal.policy.rateLimit ?? policy;
    } else if (principal || (url !== undefined && publicRoutes.includes(url))) {
      caller = `ip:${req.ip}`;
    }
    if (!caller || !policy) return;
    const d = await rate.take(caller, policy);
    if (!d.allowed) {
      if (req.tracejobAudit) req.tracejobAudit.reason = `rate limit of ${policy.requests} per ${policy.windowSeconds}s`;
      throw new RateLimitedError(`rate limit of ${policy.requests} requests per ${policy.windowSeconds}s reached; retry in ${d.retryAfterSeconds}s`, d.retryAfterSeconds);
    }
    void reply.header('x-ratelimit-remaining', String(d.remaining));
  });

  app.addHook('preParsing', async (req, reply, payload) => {
    if (req.routeOptions.url === ROUTES.upload) return payload;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared)) {
      if (declared > jsonLimit) throw new PayloadTooLargeError(`request body is larger than ${jsonLimit} bytes`);
      return payload;
    }
    // Chunked bodies: count the bytes; the parser sees the cap's error and answers 413.
    const capped = byteCap(jsonLimit, 'request body');
    const source = payload as Readable;
    source.on('error', (err) => capped.destroy(err));
    capped.on('error', () => source.unpipe(capped).resume());
    // When the answer goes out before the body was read (e.g. 415), drain the rest of the body
    // so a keep-alive connection is not left waiting in the middle of it.
    reply.raw.once('finish', () => {
      if (!source.readableEnded) source.unpipe(capped).resume();
    });
    return source.pipe(capped) as unknown as typeof payload;
  });

  app.addHook('preHandler', async (req) => {
    const url = req.routeOptions.url;
    const principal = req.principal;
    // The routes that start traces (POST: a trace, an alert, a schedule) take their slots from here.
    if (principal && req.method === 'POST') req.traceSlotScopes = traceSlotScopes(principal.name, principal.policy.maxConcurrentTraces, opts.limits.maxConcurrentTraces);
    if (url === ROUTES.traces && req.method === 'POST' && principal) {
      const scopes = req.traceSlotScopes ?? [];
      if (scopes.length === 0) return;
      const reservation = `r:${randomUUID()}`;
      const d = await slots.acquire(scopes, reservation, RESERVATION_MS);
      if (!d.ok) {
        const reason = slotRefusal(d, principal.name);
        if (req.tracejobAudit) req.tracejobAudit.reason = reason;
        throw new RateLimitedError(`${reason}; retry when one ends`, 5);
      }
      Object.assign(stateOf(req), { reservation, scopes });
      return;
    }
    if (url === ROUTES.upload) {
      const { id, node } = req.params as { id: string; node: string };
      const auth = header(req, 'authorization');
      const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
      // Without a good token the route refuses the upload itself (401/403); say nothing more here.
      if (!token || !verifyUploadToken(opts.uploadTokenSecret, token, id, node).ok) return;
      const who: UploadIdentity = {};
      const uploadId = header(req, 'upload-id');
      if (uploadId !== undefined) {
        if (!UPLOAD_ID_PATTERN.test(uploadId)) throw new InvalidError('Upload-Id', 'Upload-Id: 1–128 letters, digits, ".", "_", ":", "-"');
        who.uploadId = uploadId;
      }
      const digest = header(req, 'x-content-sha256');
      if (digest !== undefined) {
        if (!/^[0-9a-f]{64}$/.test(digest)) throw new InvalidError('X-Content-SHA256', 'X-Content-SHA256: the hex SHA-256 of the body');
        who.sha256 = digest;
        const body = req.body as Readable;
        req.body = pipeline(body, digestCheck(digest), () => undefined);
      }
      const d = await uploads.check(id, node, who);
      if (!d.ok) {
        if (req.tracejobAudit) req.tracejobAudit.reason = d.reason;
        throw new ConflictError(d.reason, 'node');
      }
      stateOf(req).upload = { ...who, traceId: id, node };
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    const s = state.get(req);
    if (!s) return;
    if (s.reservation && s.scopes) {
      const traceId = req.tracejobAudit?.traceId;
      if (reply.statusCode === 202 && traceId) await slots.commit(s.scopes, s.reservation, traceId, TRACE_SLOT_MS);
      else await slots.release(s.scopes, s.reservation);
    }
    if (s.upload && reply.statusCode === 201) {
      const { traceId, node, ...who } = s.upload;
      await uploads.record(traceId, node, who);
    }
  });
}
