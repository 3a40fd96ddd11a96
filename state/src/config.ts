/**
 * Configuration of the API, the scheduler and the all-in-one mode: read once from the environment
 * into a typed, frozen object and passed down. Invalid values are refused with a message naming
 * the variable. Documented in docs/configuration.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { findRepoRoot } from '../../bpf/src/repo-paths.ts';

export type BackendKind = 'local' | 'kubernetes';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Where node results live: the filesystem under DATA_DIR, or an S3-API object store. */
export type ResultStoreConfig =
  | { kind: 'fs' }
  | {
      kind: 's3';
      /** Unset: the SDK's endpoint for the region. */
      endpoint?: string;
      bucket: string;
      region: string;
      /** Unset (both): the SDK's default credential chain (instance role, web identity). */
      credentials?: { accessKeyId: string; secretAccessKey: string };
      forcePathStyle: boolean;
      /** A request to the store that stays silent longer fails; uploads are then answered 503. */
      timeoutSeconds: number;
    };

export interface Config {
  port: number;
  host: string;
  /** Unset: the all-in-one mode starts a private redis-server under DATA_DIR. */
  redisUrl?: string;
  dataDir: string;
  nodeName: string;
  backend: BackendKind;
  /** Base URL the runners use to reach the API's upload endpoint (default http://HOST:PORT). */
  publicUrl?: string;
  maxDurationSeconds: number;
  defaultDurationSeconds: number;
  maxEventsPerNode: number;
  /** Cap on one node's uploaded result (compressed upload and uncompressed events file). */
  maxResultBytes: number;
  retentionSeconds: number;
  /** Seconds after the trace's deadline a runner has to stop and upload before it is killed. */
  runnerGraceSeconds: number;
  /** Traces waiting in the queue beyond which POST /v1/traces answers 429. */
  maxQueuedTraces: number;
  /** How many traces one scheduler process runs at the same time. */
  schedulerConcurrency: number;
  /** BullMQ lock of a running trace; a scheduler that dies is detected after about this long. */
  schedulerLockSeconds: number;
  uploadTokenSecret: string;
  logLevel: LogLevel;
  /** Command that starts the runner (local backend): argv prefix, `--spec FILE --out DIR` is appended. */
  runnerCommand: readonly string[];
  /** Local backend: keep one runner started ahead of the next trace (it skips the process start). */
  runnerPrewarm: boolean;
  /** Alertmanager webhook rules (YAML/JSON); unset: no /v1/hooks/alertmanager route. */
  alertRulesFile?: string;
  /** Shortest interval a schedule may run at (SCHEDULE_MIN_INTERVAL). */
  scheduleMinIntervalSeconds: number;
  /** Schedules one caller may have; a policy's maxSchedules overrides it. */
  scheduleMaxPerCaller: number;
  resultStore: Readonly<ResultStoreConfig>;
  /** Local copies of columnar files fetched from the object store are kept up to this size. */
  queryCacheBytes: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

// The repository (or image) root, from source (api/src/) and compiled (dist/api/src/) alike.
const repoRoot = findRepoRoot();

function int(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got ${JSON.stringify(raw)}`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw as T;
}

function url(env: Env, name: string, protocols: readonly string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be a URL, got ${JSON.stringify(raw)}`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got ${parsed.protocol}`);
  }
  return raw.replace(/\/+$/, '');
}

const NODE_NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,252}$/;

/** Seconds of an interval such as `30s`, `1m`, `1h30m`, `1d`. */
function interval(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const t = raw.trim();
  if (!/^(\d{1,6}[smhd])+$/.test(t)) throw new ConfigError(name, `must be an interval like 30s, 1m or 1h, got ${JSON.stringify(raw)}`);
  const unit: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };
  let seconds = 0;
  for (const m of t.matchAll(/(\d+)([smhd])/g)) seconds += Number(m[1]) * unit[m[2]!]!;
  if (seconds < 1) throw new ConfigError(name, `must be at least 1s, got ${JSON.stringify(raw)}`);
  return seconds;
}

/** The upload-token secret: UPLOAD_TOKEN_SECRET, or one generated once and kept in DATA_DIR. */
export function uploadTokenSecret(env: Env, dataDir: string): string {
  const given = env.UPLOAD_TOKEN_SECRET;
  if (given !== undefined && given !== '') {
    if (given.length < 32) throw new ConfigError('UPLOAD_TOKEN_SECRET', 'must be at least 32 characters');
    return given;
  }
  const file = join(dataDir, 'upload-token.secret');
  try {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored.length >= 32) return stored;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}

/** A secret from NAME, or from the file NAME_FILE (a mounted Secret); not both. */
function secret(env: Env, name: string): string | undefined {
  const direct = env[name];
  const file = env[`${name}_FILE`];
  if (direct && file) throw new ConfigError(name, `set ${name} or ${name}_FILE, not both`);
  if (file) {
    try {
      const value = readFileSync(file, 'utf8').trim();
      if (value === '') throw new ConfigError(`${name}_FILE`, `${file} is empty`);
      return value;
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`${name}_FILE`, `cannot read ${file}: ${(err as Error).message}`);
    }
  }
  return direct || undefined;
}

const S3_VARIABLES = ['S3_ENDPOINT', 'S3_BUCKET', 'S3_REGION', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_FORCE_PATH_STYLE', 'S3_TIMEOUT_SECONDS'] as const;

/** RESULT_STORE and the S3_* variables; a half-configured object store is refused, naming what is missing. */
export function resultStoreConfig(env: Env): ResultStoreConfig {
  const kind = oneOf(env, 'RESULT_STORE', 'fs', ['fs', 's3'] as const);
  if (kind === 'fs') {
    const stray = S3_VARIABLES.find((v) => env[v] || env[`${v}_FILE`]);
    if (stray) throw new ConfigError('RESULT_STORE', `${stray} is set but RESULT_STORE is not s3; set RESULT_STORE=s3 to use the object store`);
    return { kind };
  }
  const bucket = env.S3_BUCKET;
  if (!bucket) throw new ConfigError('S3_BUCKET', 'required with RESULT_STORE=s3');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new ConfigError('S3_BUCKET', `must be a bucket name (3-63 of a-z, 0-9, '.', '-'), got ${JSON.stringify(bucket)}`);
  const region = env.S3_REGION || 'us-east-1';
  if (!/^[a-z0-9-]{1,64}$/.test(region)) throw new ConfigError('S3_REGION', `must be a region name like us-east-1, got ${JSON.stringify(region)}`);
  const accessKeyId = secret(env, 'S3_ACCESS_KEY_ID');
  const secretAccessKey = secret(env, 'S3_SECRET_ACCESS_KEY');
  if (accessKeyId && !secretAccessKey) throw new ConfigError('S3_SECRET_ACCESS_KEY', 'required when S3_ACCESS_KEY_ID is set');
  if (secretAccessKey && !accessKeyId) throw new ConfigError('S3_ACCESS_KEY_ID', 'required when S3_SECRET_ACCESS_KEY is set');
  const endpoint = url(env, 'S3_ENDPOINT', ['http:', 'https:']);
  const pathStyle = oneOf(env, 'S3_FORCE_PATH_STYLE', endpoint ? 'true' : 'false', ['true', 'false'] as const);
  return {
    kind,
    ...(endpoint ? { endpoint } : {}),
    bucket,
    region,
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
    forcePathStyle: pathStyle === 'true',
    timeoutSeconds: int(env, 'S3_TIMEOUT_SECONDS', 30, 1, 3600),
  };
}

/** Reads the configuration from `env`; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Env = process.env): Readonly<Config> {
  const dataDir = resolve(env.DATA_DIR || join(repoRoot, '.data'));
  const maxDurationSeconds = int(env, 'MAX_DURATION_SECONDS', 300, 1, 86_400);
  const defaultDurationSeconds = int(env, 'DEFAULT_DURATION_SECONDS', 30, 1, 86_400);
  if (defaultDurationSeconds > maxDurationSeconds) {
    throw new ConfigError('DEFAULT_DURATION_SECONDS', `must not exceed MAX_DURATION_SECONDS (${maxDurationSeconds})`);
  }
  const nodeName = env.NODE_NAME || hostname();
  if (!NODE_NAME_PATTERN.test(nodeName)) {
    throw new ConfigError('NODE_NAME', `must be a DNS-style name (letters, digits, '.', '-', '_'), got ${JSON.stringify(nodeName)}`);
  }
  const host = env.HOST || '127.0.0.1';
  if (!/^[a-zA-Z0-9.:_-]+$/.test(host)) throw new ConfigError('HOST', `must be an address or host name, got ${JSON.stringify(host)}`);
  let runnerCommand: string[] = [process.execPath, join(repoRoot, 'bin', 'tracejob-runner.js')];
  if (env.RUNNER_COMMAND) {
    try {
      const parsed: unknown = JSON.parse(env.RUNNER_COMMAND);
      if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every((p) => typeof p === 'string')) throw new Error();
      runnerCommand = parsed as string[];
    } catch {
      throw new ConfigError('RUNNER_COMMAND', 'must be a JSON array of strings, e.g. ["node","/opt/tracejob/bin/tracejob-runner.js"]');
    }
  }
  const config: Config = {
    port: int(env, 'PORT', 8080, 0, 65_535),
    host,
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    dataDir,
    nodeName,
    backend: oneOf(env, 'BACKEND', 'local', ['local', 'kubernetes'] as const),
    publicUrl: url(env, 'PUBLIC_URL', ['http:', 'https:']),
    maxDurationSeconds,
    defaultDurationSeconds,
    maxEventsPerNode: int(env, 'MAX_EVENTS_PER_NODE', 1_000_000, 1),
    maxResultBytes: int(env, 'MAX_RESULT_BYTES', 256 * 1024 * 1024, 1024),
    retentionSeconds: int(env, 'RETENTION_SECONDS', 7 * 24 * 3600, 1),
    runnerGraceSeconds: int(env, 'RUNNER_GRACE_SECONDS', 30, 1, 3600),
    maxQueuedTraces: int(env, 'MAX_QUEUED_TRACES', 10_000, 1),
    schedulerConcurrency: int(env, 'SCHEDULER_CONCURRENCY', 8, 1, 1000),
    schedulerLockSeconds: int(env, 'SCHEDULER_LOCK_SECONDS', 30, 2, 3600),
    uploadTokenSecret: '',
    logLevel: oneOf(env, 'LOG_LEVEL', 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
    runnerCommand: Object.freeze(runnerCommand),
    runnerPrewarm: oneOf(env, 'RUNNER_PREWARM', '1', ['0', '1'] as const) === '1',
    alertRulesFile: env.ALERT_RULES_FILE ? resolve(env.ALERT_RULES_FILE) : undefined,
    scheduleMinIntervalSeconds: interval(env, 'SCHEDULE_MIN_INTERVAL', 60),
    scheduleMaxPerCaller: int(env, 'SCHEDULE_MAX_PER_CALLER', 20, 1, 100_000),
    resultStore: Object.freeze(resultStoreConfig(env)),
    queryCacheBytes: int(env, 'QUERY_CACHE_BYTES', 2 * 1024 ** 3, 0),
  };
  config.uploadTokenSecret = uploadTokenSecret(env, dataDir);
  return Object.freeze(config);
}

/** Base URL runners upload to. */
export function uploadBaseUrl(config: Pick<Config, 'publicUrl' | 'host' | 'port'>, listeningPort?: number): string {
  if (config.publicUrl) return config.publicUrl;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const h = host.includes(':') ? `[${host}]` : host;
  return `http://${h}:${listeningPort ?? config.port}`;
}
