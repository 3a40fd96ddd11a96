/**
 * Per-(trace, node) upload tokens: `<payload>.<hmac>` where payload is base64url JSON
 * `{t: traceId, n: node, e: expiry (unix s)}` and hmac is HMAC-SHA256(secret, payload).
 * The scheduler issues them; the API verifies them on PUT /v1/traces/:id/nodes/:node/result.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

interface TokenPayload {
  t: string;
  n: string;
  e: number;
}

function sign(secret: string, payload: string): string {
  return createHmac('sha256', secret).update(payload).digest('base64url');
}

export function issueUploadToken(secret: string, traceId: string, node: string, expiresAt: Date): string {
  const payload = Buffer.from(JSON.stringify({ t: traceId, n: node, e: Math.floor(expiresAt.getTime() / 1000) } satisfies TokenPayload)).toString('base64url');
  return `${payload}.${sign(secret, payload)}`;
}

export type TokenCheck = { ok: true } | { ok: false; reason: 'malformed' | 'bad-signature' | 'expired' | 'wrong-trace' | 'wrong-node' };

export function verifyUploadToken(secret: string, token: string, traceId: string, node: string, now = new Date()): TokenCheck {
  const parts = token.split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return { ok: false, reason: 'malformed' };
  const [payload, mac] = parts as [string, string];
  const expected = Buffer.from(sign(secret, payload));
  const given = Buffer.from(mac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'bad-signature' };
  let p: TokenPayload;
  try {
    p = JSON.parse(Buffer.from(payload, 'base64url').toString()) as TokenPayload;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof p.e !== 'number' || p.e * 1000 < now.getTime()) return { ok: false, reason: 'expired' };
  if (p.t !== traceId) return { ok: false, reason: 'wrong-trace' };
  if (p.n !== node) return { ok: false, reason: 'wrong-node' };
  return { ok: true };
}
