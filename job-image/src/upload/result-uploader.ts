/**
 * PUTs the node result (a streamed tar.gz) to the API's upload endpoint with the node's bearer
 * token. Network errors, 429 and 5xx are retried with exponential backoff and full jitter (honouring
 * Retry-After); any other 4xx is final. The files stay on disk whatever happens.
 * Every attempt carries the same `Upload-Id`, so the API accepts a retry of an upload whose answer
 * was lost instead of refusing it as a second upload (409).
 */
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { resultArchiveStream } from './result-archive.ts';

export interface UploadOptions {
  url: string;
  token: string;
  files: readonly string[];
  /** Identifies this upload across its attempts (default: a random UUID per uploadResult call). */
  uploadId?: string;
  /** Attempts in all (default 5). */
  attempts?: number;
  /** Delay before the first retry, doubled each time, full jitter (default 500 ms). */
  backoffMs?: number;
  /** Longest wait between attempts, Retry-After included (default 30 s). */
  maxDelayMs?: number;
  /** Per-attempt time limit (default 60 s). */
  timeoutMs?: number;
  onRetry?(info: { attempt: number; delayMs: number; reason: string }): void;
  /** Random in [0, 1): injectable for tests of the backoff schedule. */
  random?: () => number;
}

export interface UploadResult {
  status: number;
  attempts: number;
  bytes: number;
}

export class UploadFailedError extends Error {
  override readonly name = 'UploadFailedError';
  constructor(
    message: string,
    readonly attempts: number,
    readonly status?: number,
  ) {
    super(message);
  }
}

interface AttemptOutcome {
  ok: boolean;
  retryable: boolean;
  status?: number;
  retryAfterMs?: number;
  reason: string;
  bytes: number;
}

export async function uploadResult(opts: UploadOptions): Promise<UploadResult> {
  const attempts = opts.attempts ?? 5;
  const backoff = opts.backoffMs ?? 500;
  const maxDelay = opts.maxDelayMs ?? 30_000;
  const random = opts.random ?? Math.random;
  for (const file of opts.files) {
    try {
      statSync(file);
    } catch (err) {
      throw new UploadFailedError(`cannot read the result file ${file}: ${(err as Error).message}`, 0);
    }
  }
  const uploadId = opts.uploadId ?? randomUUID();
  let last: AttemptOutcome | undefined;
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    last = await attemptUpload(opts, uploadId);
    if (last.ok) return { status: last.status!, attempts: attempt, bytes: last.bytes };
    if (!last.retryable) {
      throw new UploadFailedError(`upload to ${redactUrl(opts.url)} refused: ${last.reason}`, attempt, last.status);
    }
    if (attempt === attempts) break;
    const delayMs = retryDelayMs(attempt, backoff, maxDelay, random, last.retryAfterMs);
    opts.onRetry?.({ attempt, delayMs, reason: last.reason });
    await sleep(delayMs);
  }
  throw new UploadFailedError(`upload to ${redactUrl(opts.url)} failed after ${attempts} attempts: ${last?.reason}`, attempts, last?.status);
}

/** Full-jitter exponential backoff; Retry-After (when given) is a floor. Both capped at maxDelay. */
export function retryDelayMs(attempt: number, baseMs: number, maxDelayMs: number, random: () => number, retryAfterMs?: number): number {
  const ceiling = Math.min(maxDelayMs, baseMs * 2 ** (attempt - 1));
  const jittered = Math.round(ceiling / 2 + random() * (ceiling / 2));
  return Math.min(maxDelayMs, Math.max(jittered, retryAfterMs ?? 0));
}

/** Retry-After as seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function attemptUpload(opts: UploadOptions, uploadId: string): Promise<AttemptOutcome> {
  const url = new URL(opts.url);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let bytes = 0;
    let settled = false;
    const finish = (o: Omit<AttemptOutcome, 'bytes'>) => {
      if (settled) return;
      settled = true;
      resolve({ ...o, bytes });
    };
    const req = request(url, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${opts.token}`,
        'content-type': 'application/gzip',
        'transfer-encoding': 'chunked',
        'upload-id': uploadId,
      },
      timeout: opts.timeoutMs ?? 60_000,
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs ?? 60_000} ms`)));
    req.on('error', (err) => finish({ ok: false, retryable: true, reason: `network error: ${err.message}` }));
    req.on('response', (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 2000) body += d;
      });
      res.on('error', (err) => finish({ ok: false, retryable: true, reason: `network error: ${err.message}` }));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const text = body.trim().slice(0, 500);
        if (status >= 200 && status < 300) return finish({ ok: true, retryable: false, status, reason: 'ok' });
        const retryable = status === 429 || status >= 500;
        const retryAfterMs = parseRetryAfter(res.headers['retry-after'] as string | undefined);
        finish({ ok: false, retryable, status, reason: `HTTP ${status}${text ? ` ${text}` : ''}`, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
      });
    });
    const archive = resultArchiveStream(opts.files);
    archive.on('data', (chunk: Buffer) => (bytes += chunk.length));
    pipeline(archive, req).catch((err: Error) => finish({ ok: false, retryable: true, reason: `network error: ${err.message}` }));
  });
}

/** The URL without query string (tokens sometimes travel there). */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '<invalid url>';
  }
}
