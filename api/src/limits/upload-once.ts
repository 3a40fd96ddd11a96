/**
 * One result per (trace, node): after a node's upload is stored, another upload for that node is
 * refused (409) unless it is the resume/retry of the same upload — same `Upload-Id` header, or
 * same declared content digest (`X-Content-SHA256`, checked against the bytes received).
 * Record: `tj:upload:<trace>:<node>` = JSON {uploadId?, sha256?}, kept as long as the trace.
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { Redis } from 'ioredis';
import { InvalidError } from '../errors.ts';

export interface UploadIdentity {
  uploadId?: string;
  sha256?: string;
}

export type UploadOnceDecision = { ok: true; resume: boolean } | { ok: false; reason: string };

export const UPLOAD_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export class UploadOnce {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number,
  ) {}

  private key(traceId: string, node: string): string {
    return `tj:upload:${traceId}:${node}`;
  }

  /** May this upload go ahead? First upload: yes; later ones only when they are the same upload. */
  async check(traceId: string, node: string, who: UploadIdentity): Promise<UploadOnceDecision> {
    const raw = await this.redis.get(this.key(traceId, node));
    if (!raw) return { ok: true, resume: false };
    const prior = JSON.parse(raw) as UploadIdentity;
    if (who.uploadId !== undefined && prior.uploadId === who.uploadId) return { ok: true, resume: true };
    if (who.sha256 !== undefined && prior.sha256 === who.sha256) return { ok: true, resume: true };
    return {
      ok: false,
      reason: `node ${node} of trace ${traceId} already uploaded its result; only a retry of that upload (same Upload-Id or X-Content-SHA256) is accepted`,
    };
  }

  /** Records the stored upload (the first one wins when two race). */
  async record(traceId: string, node: string, who: UploadIdentity): Promise<boolean> {
    const out = await this.redis.set(this.key(traceId, node), JSON.stringify(who), 'EX', this.ttlSeconds, 'NX');
    return out === 'OK';
  }
}

/** Pass-through that hashes the bytes and fails at the end when they do not match `expectedHex`. */
export function digestCheck(expectedHex: string): Transform {
  const hash = createHash('sha256');
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done) {
      const got = hash.digest('hex');
      done(got === expectedHex ? null : new InvalidError('X-Content-SHA256', `X-Content-SHA256 says ${expectedHex} but the body hashes to ${got}`));
    },
  });
}
