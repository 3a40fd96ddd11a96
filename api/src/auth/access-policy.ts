/**
 * What one caller may do: the policy attached to an API token or to a Kubernetes user/group.
 * Parsed from the auth config file (YAML or JSON) with errors naming the offending field.
 */
import { GADGET_NAMES } from '../../../contracts/index.ts';
import { isSha256Hex } from './api-token-hash.ts';

export interface RateLimitPolicy {
  /** Requests allowed per window. */
  requests: number;
  windowSeconds: number;
}

export interface AccessPolicy {
  /** Name of the token or Kubernetes policy: the `who` of the audit log and the rate-limit key. */
  name: string;
  /** Namespaces the caller may trace and see; `['*']` for all. */
  namespaces: readonly string[];
  /** Gadgets the caller may run; `['*']` for all. */
  gadgets: readonly string[];
  /** May trace local targets (containerIds, pids, cgroupPaths): these have no namespace. */
  local: boolean;
  maxDurationSeconds?: number;
  maxConcurrentTraces?: number;
  /** Schedules the caller may have at once (default: SCHEDULE_MAX_PER_CALLER). */
  maxSchedules?: number;
  rateLimit?: RateLimitPolicy;
}

export interface TokenEntry {
  policy: AccessPolicy;
  /** SHA-256 hex of the bearer token. */
  sha256: string;
}

export interface KubernetesPolicyEntry {
  policy: AccessPolicy;
  users: readonly string[];
  groups: readonly string[];
}

export interface KubernetesAuthConfig {
  /** Map TokenReview-authenticated users to policies; first match wins. */
  policies: readonly KubernetesPolicyEntry[];
  /** Also ask a SubjectAccessReview whether the user may `get pods` in the target namespace. */
  subjectAccessReview: boolean;
  /** TokenReview audiences (empty: the API server's default). */
  audiences: readonly string[];
  /** API server URL; default: in-cluster (KUBERNETES_SERVICE_HOST/PORT). */
  apiServer?: string;
  caFile?: string;
  tokenFile?: string;
  /** Seconds a positive TokenReview answer is cached. */
  cacheSeconds: number;
}

export interface GlobalLimits {
  /** Queued + running traces over all callers. */
  maxConcurrentTraces?: number;
  /** Running traces per node (enforced by the scheduler). */
  maxConcurrentTracesPerNode?: number;
  /** Rate limit for callers whose policy names none. */
  defaultRateLimit?: RateLimitPolicy;
  /** Body limit of POST /v1/traces and other JSON routes, bytes. */
  jsonBodyLimitBytes?: number;
}

export interface AuthConfig {
  /** `open`: no authentication (loopback only). */
  mode: 'open' | 'enforced';
  tokens: readonly TokenEntry[];
  kubernetes?: KubernetesAuthConfig;
  limits: GlobalLimits;
  /** Where the config came from, for messages. */
  source: string;
}

export class AuthConfigError extends Error {
  override readonly name = 'AuthConfigError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
const NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(o: Obj, field: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new AuthConfigError(`${field}.${k}`, `unknown field (allowed: ${allowed.join(', ')})`);
  }
}

function posInt(v: unknown, field: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new AuthConfigError(field, `must be a whole number ≥ 1, got ${JSON.stringify(v)}`);
  return v;
}

function stringList(v: unknown, field: string, check: (s: string) => boolean, what: string): string[] {
  if (!Array.isArray(v) || v.length === 0) throw new AuthConfigError(field, `must be a non-empty list (use ['*'] for all)`);
  return v.map((s, i) => {
    if (typeof s !== 'string' || (s !== '*' && !check(s))) throw new AuthConfigError(`${field}[${i}]`, `must be ${what} or '*', got ${JSON.stringify(s)}`);
    return s;
  });
}

function rateLimit(v: unknown, field: string): RateLimitPolicy | undefined {
  if (v === undefined) return undefined;
  if (!isObj(v)) throw new AuthConfigError(field, 'must be {requests, windowSeconds}');
  checkKeys(v, field, ['requests', 'windowSeconds']);
  const requests = posInt(v.requests, `${field}.requests`);
  const windowSeconds = posInt(v.windowSeconds ?? 60, `${field}.windowSeconds`);
  if (requests === undefined) throw new AuthConfigError(`${field}.requests`, 'required');
  return { requests, windowSeconds: windowSeconds! };
}

const POLICY_KEYS = ['name', 'namespaces', 'gadgets', 'local', 'maxDurationSeconds', 'maxConcurrentTraces', 'maxSchedules', 'rateLimit'] as const;

function policyOf(o: Obj, field: string): AccessPolicy {
  if (typeof o.name !== 'string' || !NAME.test(o.name)) throw new AuthConfigError(`${field}.name`, `must be a name of letters, digits, '.', '_', ':', '@', '-', got ${JSON.stringify(o.name)}`);
  const gadgets = stringList(o.gadgets ?? ['*'], `${field}.gadgets`, (g) => (GADGET_NAMES as readonly string[]).includes(g), `one of ${GADGET_NAMES.join(', ')}`);
  const namespaces = o.namespaces === undefined && o.local === true ? [] : stringList(o.namespaces, `${field}.namespaces`, (n) => NAMESPACE.test(n), 'a namespace name');
  if (o.local !== undefined && typeof o.local !== 'boolean') throw new AuthConfigError(`${field}.local`, 'must be true or false');
  const p: AccessPolicy = { name: o.name, namespaces, gadgets, local: o.local === true };
  const maxDurationSeconds = posInt(o.maxDurationSeconds, `${field}.maxDurationSeconds`);
  const maxConcurrentTraces = posInt(o.maxConcurrentTraces, `${field}.maxConcurrentTraces`);
  const maxSchedules = posInt(o.maxSchedules, `${field}.maxSchedules`);
  const rl = rateLimit(o.rateLimit, `${field}.rateLimit`);
  if (maxSchedules !== undefined) p.maxSchedules = maxSchedules;
  if (maxDurationSeconds !== undefined) p.maxDurationSeconds = maxDurationSeconds;
  if (maxConcurrentTraces !== undefined) p.maxConcurrentTraces = maxConcurrentTraces;
  if (rl) p.rateLimit = rl;
  return p;
}

function tokenEntry(v: unknown, field: string): TokenEntry {
  if (!isObj(v)) throw new AuthConfigError(field, 'must be an object');
  checkKeys(v, field, [...POLICY_KEYS, 'sha256', 'hash']);
  let digest: unknown = v.sha256 ?? v.hash;
  const hashField = v.sha256 !== undefined ? `${field}.sha256` : `${field}.hash`;
  if (v.sha256 !== undefined && v.hash !== undefined) throw new AuthConfigError(field, 'give sha256 or hash, not both');
  if (typeof digest === 'string' && digest.startsWith('sha256:')) digest = digest.slice('sha256:'.length);
  if (typeof digest !== 'string' || !isSha256Hex(digest.toLowerCase())) {
    throw new AuthConfigError(hashField, 'must be the SHA-256 hex digest of the token (64 hex digits; `tracejob token hash` prints it); plain tokens are never stored');
  }
  return { policy: policyOf(v, field), sha256: digest.toLowerCase() };
}

function kubernetesSection(v: unknown, field: string): KubernetesAuthConfig {
  if (!isObj(v)) throw new AuthConfigError(field, 'must be an object');
  checkKeys(v, field, ['policies', 'subjectAccessReview', 'audiences', 'apiServer', 'caFile', 'tokenFile', 'cacheSeconds']);
  if (!Array.isArray(v.policies) || v.policies.length === 0) throw new AuthConfigError(`${field}.policies`, 'must be a non-empty list');
  const policies = v.policies.map((p, i): KubernetesPolicyEntry => {
    const f = `${field}.policies[${i}]`;
    if (!isObj(p)) throw new AuthConfigError(f, 'must be an object');
    checkKeys(p, f, [...POLICY_KEYS, 'users', 'groups']);
    const users = p.users === undefined ? [] : stringList(p.users, `${f}.users`, (s) => s.length > 0 && s.length < 512, 'a user name');
    const groups = p.groups === undefined ? [] : stringList(p.groups, `${f}.groups`, (s) => s.length > 0 && s.length < 512, 'a group name');
    if (users.length === 0 && groups.length === 0) throw new AuthConfigError(f, 'name at least one of users, groups');
    return { policy: policyOf(p, f), users, groups };
  });
  if (v.subjectAccessReview !== undefined && typeof v.subjectAccessReview !== 'boolean') throw new AuthConfigError(`${field}.subjectAccessReview`, 'must be true or false');
  const audiences = v.audiences === undefined ? [] : stringList(v.audiences, `${field}.audiences`, (s) => s.length > 0, 'an audience');
  const out: KubernetesAuthConfig = {
    policies,
    subjectAccessReview: v.subjectAccessReview === true,
    audiences,
    cacheSeconds: posInt(v.cacheSeconds, `${field}.cacheSeconds`) ?? 30,
  };
  for (const key of ['apiServer', 'caFile', 'tokenFile'] as const) {
    const s = v[key];
    if (s === undefined) continue;
    if (typeof s !== 'string' || s === '') throw new AuthConfigError(`${field}.${key}`, 'must be a non-empty string');
    out[key] = s;
  }
  if (out.apiServer !== undefined && !/^https?:\/\//.test(out.apiServer)) throw new AuthConfigError(`${field}.apiServer`, 'must be an http(s) URL');
  return out;
}

function limitsSection(v: unknown, field: string): GlobalLimits {
  if (v === undefined) return {};
  if (!isObj(v)) throw new AuthConfigError(field, 'must be an object');
  checkKeys(v, field, ['maxConcurrentTraces', 'maxConcurrentTracesPerNode', 'defaultRateLimit', 'jsonBodyLimitBytes']);
  const out: GlobalLimits = {};
  const total = posInt(v.maxConcurrentTraces, `${field}.maxConcurrentTraces`);
  const perNode = posInt(v.maxConcurrentTracesPerNode, `${field}.maxConcurrentTracesPerNode`);
  const body = posInt(v.jsonBodyLimitBytes, `${field}.jsonBodyLimitBytes`);
  const rl = rateLimit(v.defaultRateLimit, `${field}.defaultRateLimit`);
  if (total !== undefined) out.maxConcurrentTraces = total;
  if (perNode !== undefined) out.maxConcurrentTracesPerNode = perNode;
  if (body !== undefined) out.jsonBodyLimitBytes = body;
  if (rl) out.defaultRateLimit = rl;
  return out;
}

/**
 * Validates a parsed auth config document:
 * `{tokens?: [...], kubernetes?: {policies: [...]}, limits?: {...}}`. With neither tokens nor
 * kubernetes policies the config is refused (an empty file must not mean "open").
 */
export function parseAuthConfig(doc: unknown, source: string): AuthConfig {
  if (!isObj(doc)) throw new AuthConfigError(source, 'must be a mapping with `tokens` and/or `kubernetes`');
  checkKeys(doc, source, ['tokens', 'kubernetes', 'limits']);
  const tokens = doc.tokens === undefined ? [] : Array.isArray(doc.tokens) ? doc.tokens.map((t, i) => tokenEntry(t, `tokens[${i}]`)) : [];
  if (doc.tokens !== undefined && !Array.isArray(doc.tokens)) throw new AuthConfigError('tokens', 'must be a list');
  const names = new Set<string>();
  const digests = new Set<string>();
  tokens.forEach((t, i) => {
    if (names.has(t.policy.name)) throw new AuthConfigError(`tokens[${i}].name`, `duplicate token name ${JSON.stringify(t.policy.name)}`);
    if (digests.has(t.sha256)) throw new AuthConfigError(`tokens[${i}].sha256`, 'the same token is listed twice');
    names.add(t.policy.name);
    digests.add(t.sha256);
  });
  const config: AuthConfig = { mode: 'enforced', tokens, limits: limitsSection(doc.limits, 'limits'), source };
  if (doc.kubernetes !== undefined) config.kubernetes = kubernetesSection(doc.kubernetes, 'kubernetes');
  if (tokens.length === 0 && !config.kubernetes) throw new AuthConfigError('tokens', `${source} names no tokens and no kubernetes policies: nobody could use the API`);
  return config;
}

/** The policy of open mode (all-in-one on loopback): everything allowed. */
export const OPEN_POLICY: AccessPolicy = Object.freeze({ name: 'anonymous', namespaces: ['*'], gadgets: ['*'], local: true });

export function openAuthConfig(limits: GlobalLimits = {}): AuthConfig {
  return { mode: 'open', tokens: [], limits, source: 'open mode' };
}
