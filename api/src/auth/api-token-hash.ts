/**
 * API tokens are stored as SHA-256 hex digests only; a presented bearer token is hashed and
 * compared in constant time. `hashApiToken` is what `tracejob token hash` prints for operators.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** SHA-256 hex digest of a bearer token, as written in the tokens file (`sha256:`). */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random API token (256 bits, URL-safe), prefixed so it is recognisable in leaks. */
export function generateApiToken(): string {
  return `tj_${randomBytes(32).toString('base64url')}`;
}

export function isSha256Hex(value: string): boolean {
  return SHA256_HEX.test(value);
}

/** Constant-time comparison of two SHA-256 hex digests (false when either is malformed). */
export function sha256HexEqual(a: string, b: string): boolean {
  if (!isSha256Hex(a) || !isSha256Hex(b)) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

/** Output of `tracejob token hash`: the digest and the line to paste into the tokens file. */
export function tokenHashCommandOutput(token: string): { sha256: string; yaml: string } {
  const sha256 = hashApiToken(token);
  return { sha256, yaml: `sha256: ${sha256}` };
}
