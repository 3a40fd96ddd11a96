/**
 * Authorization as pure functions over a principal's policy: may it create this trace, may it see
 * this trace. The routes answer 403 for a refused creation and 404 (not 403) for a trace the
 * caller may not see, so existence does not leak.
 */
import type { TraceSpec, TraceTarget } from '../../../contracts/index.ts';
import type { AccessPolicy } from './access-policy.ts';

export interface Principal {
  /** Token or policy name: the audit log's `who` and the rate-limit key. */
  name: string;
  via: 'token' | 'kubernetes' | 'open';
  policy: AccessPolicy;
  /** The Kubernetes user behind a TokenReview-authenticated caller. */
  kubernetesUser?: { username: string; uid?: string; groups: readonly string[] };
}

export type Decision = { allowed: true } | { allowed: false; reason: string; field: string };

const ALLOW: Decision = { allowed: true };

function deny(field: string, reason: string): Decision {
  return { allowed: false, field, reason };
}

export function targetNamespace(target: TraceTarget | Record<string, unknown>): string | undefined {
  const ns = (target as { namespace?: unknown }).namespace;
  return typeof ns === 'string' ? ns : undefined;
}

function allowsAll(list: readonly string[]): boolean {
  return list.includes('*');
}

export function mayUseNamespace(policy: AccessPolicy, namespace: string): boolean {
  return allowsAll(policy.namespaces) || policy.namespaces.includes(namespace);
}

/**
 * May the principal see a trace with this target? A namespaced trace needs the namespace; a
 * local one (no namespace) needs `local: true`.
 */
export function maySeeTrace(policy: AccessPolicy, target: TraceTarget | Record<string, unknown>): boolean {
  const ns = targetNamespace(target);
  return ns === undefined ? policy.local : mayUseNamespace(policy, ns);
}

export interface CreateRequest {
  gadget: string;
  durationSeconds?: number;
  target: TraceTarget | Record<string, unknown>;
}

/** May the principal create this trace (namespace or local, gadget, duration)? Concurrency is checked by the limits. */
export function mayCreateTrace(policy: AccessPolicy, req: CreateRequest | TraceSpec, defaultDurationSeconds?: number): Decision {
  const ns = targetNamespace(req.target);
  if (ns === undefined) {
    if (!policy.local) return deny('target', `${policy.name} may not trace local targets (containerIds, pids, cgroupPaths); it needs local: true`);
  } else if (!mayUseNamespace(policy, ns)) {
    return deny('target.namespace', `${policy.name} may not trace namespace ${JSON.stringify(ns)}`);
  }
  if (!allowsAll(policy.gadgets) && !policy.gadgets.includes(req.gadget)) {
    return deny('gadget', `${policy.name} may not run gadget ${JSON.stringify(req.gadget)} (allowed: ${policy.gadgets.join(', ')})`);
  }
  const duration = req.durationSeconds ?? defaultDurationSeconds;
  if (policy.maxDurationSeconds !== undefined && duration !== undefined && duration > policy.maxDurationSeconds) {
    return deny('durationSeconds', `durationSeconds: ${duration} is over ${policy.name}'s limit of ${policy.maxDurationSeconds}`);
  }
  return ALLOW;
}

/** Decision on one more concurrent trace given how many the principal already has. */
export function mayStartAnotherTrace(policy: AccessPolicy, active: number): Decision {
  if (policy.maxConcurrentTraces !== undefined && active >= policy.maxConcurrentTraces) {
    return deny('maxConcurrentTraces', `${policy.name} already has ${active} traces queued or running (limit ${policy.maxConcurrentTraces})`);
  }
  return ALLOW;
}
