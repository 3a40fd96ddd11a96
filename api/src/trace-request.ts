/**
 * A POST /v1/traces body to the trace spec it asks for: the gadget and its params (defaults
 * applied), the target's shape for the backend, the synchronous target check, the defaults of
 * duration and event cap. Shared by POST /v1/traces and POST /v1/schedules (whose `trace` is such a
 * body), so a schedule is refused for exactly what a trace would be. Errors name the field,
 * under `fieldPrefix` (e.g. `trace.`).
 */
import type { KubernetesTarget, LocalTarget, TraceSpec, TraceTarget } from '../../contracts/index.ts';
import { InvalidTargetError, NoMatchingTargetError } from '../../state/src/target-errors.ts';
import type { Config } from '../../state/src/config.ts';
import { InvalidError, UnprocessableError } from './errors.ts';
import type { GadgetCatalogue } from './gadget-catalogue.ts';
import type { TraceRequest } from './schemas/index.ts';

const K8S_FIELDS = ['namespace', 'labelSelector', 'podName', 'containerName', 'nodeName'] as const;
const LOCAL_FIELDS = ['containerIds', 'pids', 'cgroupPaths'] as const;

/** Checks the target's shape for the configured backend; returns it typed. */
export function checkTargetShape(target: TraceRequest['target'], backend: 'local' | 'kubernetes', fieldPrefix = ''): TraceTarget {
  const t = target as Record<string, unknown>;
  const f = (name: string) => `${fieldPrefix}target${name ? `.${name}` : ''}`;
  const invalid = (name: string, message: string) => new InvalidError(f(name), `${f(name)}: ${message}`);
  if (t.startupTimeoutSeconds !== undefined && t.startup !== true) throw invalid('startupTimeoutSeconds', 'only with target.startup: true');
  if (t.startup === true) {
    if (backend === 'kubernetes' && t.containerName !== undefined) {
      throw invalid('containerName', 'a startup trace follows the whole pod (a container not started yet has no cgroup to tell it by)');
    }
    const other = (['containerIds', 'pids'] as const).find((name) => t[name] !== undefined);
    if (backend === 'local' && other) throw invalid(other, 'a local startup trace names cgroupPaths, below which it waits for a new cgroup');
  }
  if (backend === 'kubernetes') {
    const local = LOCAL_FIELDS.find((name) => t[name] !== undefined);
    if (local) throw invalid(local, 'local targets need the local backend; on Kubernetes name a namespace and pods');
    if (t.namespace === undefined) throw invalid('namespace', 'required');
    return target as KubernetesTarget;
  }
  const k8s = K8S_FIELDS.find((name) => t[name] !== undefined);
  if (k8s) throw invalid(k8s, 'the local backend traces local targets; use containerIds, pids or cgroupPaths');
  if (!LOCAL_FIELDS.some((name) => t[name] !== undefined)) throw invalid('', 'name at least one of containerIds, pids, cgroupPaths');
  return target as LocalTarget;
}

export interface TraceRequestDeps {
  config: Pick<Config, 'backend' | 'defaultDurationSeconds' | 'maxEventsPerNode'>;
  gadgets: GadgetCatalogue;
  checkTarget?: (target: TraceTarget) => Promise<void>;
}

/** The spec a validated request body asks for; throws InvalidError / UnprocessableError naming the field. */
export async function specFromRequest(body: TraceRequest, deps: TraceRequestDeps, fieldPrefix = ''): Promise<TraceSpec> {
  const gadget = deps.gadgets.get(body.gadget);
  if (!gadget) throw new InvalidError(`${fieldPrefix}gadget`, `${fieldPrefix}gadget: unknown gadget ${JSON.stringify(body.gadget)}; see GET /v1/gadgets`);
  const { problems, params } = deps.gadgets.validateParams(gadget.name, body.params ?? {});
  if (problems.length > 0) {
    const p = problems[0]!;
    const field = `${fieldPrefix}params${p.field ? `.${p.field}` : ''}`;
    const bare = p.field ? `params.${p.field}` : 'params';
    throw new InvalidError(field, p.message.startsWith(bare) ? `${fieldPrefix}${p.message}` : `${field}: ${p.message}`);
  }
  const target = checkTargetShape(body.target, deps.config.backend, fieldPrefix);
  if (gadget.name === 'profile' && (target as { startup?: boolean }).startup === true) {
    // a startup trace starts at a new cgroup's first event; profile's events come only at its end
    throw new InvalidError(`${fieldPrefix}target.startup`, `${fieldPrefix}target.startup: the profile gadget counts samples in the kernel and reports them at the end, so it cannot see a start; profile the running containers instead`);
  }
  if (deps.checkTarget) {
    try {
      await deps.checkTarget(target);
    } catch (err) {
      if (err instanceof NoMatchingTargetError) throw new UnprocessableError(err.message, `${fieldPrefix}target`);
      if (err instanceof InvalidTargetError) throw new InvalidError(`${fieldPrefix}${err.field}`, err.message);
      throw err;
    }
  }
  const spec: TraceSpec = {
    gadget: gadget.name,
    durationSeconds: body.durationSeconds ?? deps.config.defaultDurationSeconds,
    target,
    params,
    limits: { maxEvents: body.limits?.maxEvents ?? deps.config.maxEventsPerNode },
  };
  if (body.callbackUrl) spec.callbackUrl = body.callbackUrl;
  return spec;
}
