/**
 * The API refuses to listen on a non-loopback address without authentication; on loopback it may
 * run open (all-in-one mode) but says so loudly.
 */
import { isIP } from 'node:net';
import type { AuthConfig } from './access-policy.ts';

export class UnsafeListenError extends Error {
  override readonly name = 'UnsafeListenError';
}

/** True for 127.0.0.0/8, ::1, ::ffff:127.x and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === 'localhost.') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && mapped[1]!.startsWith('127.');
  }
  return false;
}

export interface ListenAuthInput {
  host: string;
  auth: Pick<AuthConfig, 'mode'>;
}

export interface WarnLogger {
  warn(obj: object, msg: string): void;
}

/**
 * Throws UnsafeListenError when the server would listen beyond loopback with no authentication;
 * logs a loud warning when it runs open on loopback. Call before `listen`.
 */
export function assertAuthConfigSafe(config: ListenAuthInput, log?: WarnLogger): void {
  if (config.auth.mode !== 'open') return;
  if (!isLoopbackHost(config.host)) {
    throw new UnsafeListenError(
      `refusing to listen on ${config.host} without authentication: set AUTH_CONFIG_FILE or AUTH_CONFIG_DIR (API tokens or Kubernetes TokenReview), or listen on 127.0.0.1`,
    );
  }
  log?.warn(
    { audit: true, who: 'anonymous', action: 'server.start', decision: 'allow', reason: 'open mode' },
    `!!! AUTHENTICATION IS OFF: anyone who can reach ${config.host} may run privileged traces. Open mode is for the all-in-one mode on loopback only; set AUTH_CONFIG_FILE to require API tokens. !!!`,
  );
}
