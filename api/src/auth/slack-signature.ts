/**
 * Slack request signatures (v0): `v0=` + hex HMAC-SHA256(signing secret, `v0:<timestamp>:<body>`),
 * accepted only within 5 minutes of `now` so a captured request cannot be replayed later.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SLACK_REPLAY_WINDOW_SECONDS = 300;

export type SlackSignatureCheck = { ok: true } | { ok: false; reason: 'missing' | 'malformed' | 'stale' | 'bad-signature' };

/**
 * @param timestamp the `X-Slack-Request-Timestamp` header (unix seconds)
 * @param body the raw request body exactly as received
 * @param signature the `X-Slack-Signature` header
 * @param now current time in unix seconds (or a Date)
 */
export function verifySlackSignature(
  secret: string,
  timestamp: string | undefined,
  body: string | Buffer,
  signature: string | undefined,
  now: number | Date = Date.now() / 1000,
): SlackSignatureCheck {
  if (!secret) throw new Error('verifySlackSignature: the signing secret is empty');
  if (!timestamp || !signature) return { ok: false, reason: 'missing' };
  if (!/^\d{1,12}$/.test(timestamp) || !/^v0=[0-9a-f]{64}$/.test(signature)) return { ok: false, reason: 'malformed' };
  const nowSeconds = now instanceof Date ? now.getTime() / 1000 : now;
  if (Math.abs(nowSeconds - Number(timestamp)) > SLACK_REPLAY_WINDOW_SECONDS) return { ok: false, reason: 'stale' };
  const mac = createHmac('sha256', secret);
  mac.update(`v0:${timestamp}:`);
  mac.update(body);
  const expected = mac.digest();
  const given = Buffer.from(signature.slice(3), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected) ? { ok: true } : { ok: false, reason: 'bad-signature' };
}

/** The signature Slack would send (for tests and for operators checking their secret). */
export function slackSignature(secret: string, timestamp: string, body: string | Buffer): string {
  return 'v0=' + createHmac('sha256', secret).update(`v0:${timestamp}:`).update(body).digest('hex');
}
