/** Settings of completion callbacks, read once from the environment (see docs/configuration.md). */

export interface CallbackConfig {
  /** CALLBACK_ALLOWED_HOSTS: host names or `*.example.com` patterns callbacks may go to; empty = callbacks refused. */
  allowedHosts: readonly string[];
  /** CALLBACK_ALLOW_HTTP=true allows plain http (default https only). */
  allowHttp: boolean;
  /** CALLBACK_SIGNING_SECRET (≥ 32 characters): the HMAC key of X-Tracejob-Signature. */
  signingSecret?: string;
  /** CALLBACK_MAX_ATTEMPTS (default 6). */
  maxAttempts: number;
  /** CALLBACK_RETRY_BASE_MS: first retry delay, doubled each attempt (default 2000). */
  retryBaseMs: number;
  /** CALLBACK_TIMEOUT_MS: one attempt's timeout (default 10000). */
  timeoutMs: number;
}

export class CallbackConfigError extends Error {
  override readonly name = 'CallbackConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new CallbackConfigError(name, `must be a whole number between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

export function loadCallbackConfig(env: Env = process.env): Readonly<CallbackConfig> {
  const allowedHosts = (env.CALLBACK_ALLOWED_HOSTS ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  for (const h of allowedHosts) {
    if (!/^(\*\.)?[a-z0-9.:[\]-]+$/.test(h)) throw new CallbackConfigError('CALLBACK_ALLOWED_HOSTS', `${JSON.stringify(h)} is not a host name or *.domain pattern`);
  }
  const allowHttpRaw = env.CALLBACK_ALLOW_HTTP ?? 'false';
  if (!['true', 'false', ''].includes(allowHttpRaw)) throw new CallbackConfigError('CALLBACK_ALLOW_HTTP', `must be true or false, got ${JSON.stringify(allowHttpRaw)}`);
  const secret = env.CALLBACK_SIGNING_SECRET;
  if (secret !== undefined && secret !== '' && secret.length < 32) throw new CallbackConfigError('CALLBACK_SIGNING_SECRET', 'must be at least 32 characters');
  const config: CallbackConfig = {
    allowedHosts,
    allowHttp: allowHttpRaw === 'true',
    maxAttempts: int(env, 'CALLBACK_MAX_ATTEMPTS', 6, 1, 50),
    retryBaseMs: int(env, 'CALLBACK_RETRY_BASE_MS', 2000, 1, 3_600_000),
    timeoutMs: int(env, 'CALLBACK_TIMEOUT_MS', 10_000, 100, 120_000),
  };
  if (secret) config.signingSecret = secret;
  return Object.freeze(config);
}
