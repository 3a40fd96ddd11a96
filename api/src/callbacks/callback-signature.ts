/**
 * Completion callbacks are signed so the receiver knows they come from tracejob:
 *   X-Tracejob-Timestamp: <unix seconds>
 *   X-Tracejob-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 * A receiver recomputes the HMAC over the raw body and refuses timestamps older than a few minutes.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-tracejob-signature';
export const TIMESTAMP_HEADER = 'x-tracejob-timestamp';

export function signCallback(secret: string, timestamp: string, body: string | Buffer): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

/** What a receiver does: true when the signature matches and the timestamp is within `toleranceSeconds` of now. */
export function verifyCallbackSignature(
  secret: string,
  timestamp: string | undefined,
  body: string | Buffer,
  signature: string | undefined,
  nowSeconds = Date.now() / 1000,
  toleranceSeconds = 300,
): boolean {
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp) || !/^sha256=[0-9a-f]{64}$/.test(signature)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  const expected = Buffer.from(signCallback(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
