/**
 * The runner's input: a NodeJobSpec from JSON (a file or the TRACEJOB_NODE_JOB env var), checked
 * field by field so a bad spec fails with the name of the field that is wrong.
 */
import { isGadgetName, GADGET_NAMES, type NodeJobSpec, type NodeTargets } from '../../contracts/index.ts';

/** A spec field is missing or wrong; `field` is its dotted path, e.g. `targets.containers[0].containerId`. */
export class InvalidSpecError extends Error {
  override readonly name = 'InvalidSpecError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(obj: Json, key: string, path: string, required: true): string;
function str(obj: Json, key: string, path: string, required: false): string | undefined;
function str(obj: Json, key: string, path: string, required: boolean): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) {
    if (required) throw new InvalidSpecError(path, 'is required');
    return undefined;
  }
  if (typeof v !== 'string' || v.length === 0) throw new InvalidSpecError(path, `must be a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function positiveInt(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new InvalidSpecError(path, `must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function positiveNumber(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new InvalidSpecError(path, `must be a number of seconds greater than 0, got ${JSON.stringify(v)}`);
  }
  return v;
}

function array(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new InvalidSpecError(path, `must be an array, got ${JSON.stringify(v)}`);
  return v;
}

/** The default per-node event cap when a spec given on the command line names none. */
export const DEFAULT_MAX_EVENTS = 1_000_000;

/** Check an already parsed JSON value and return it as a NodeJobSpec (throws InvalidSpecError). */
export function parseNodeJobSpec(value: unknown): NodeJobSpec {
  if (!isObject(value)) throw new InvalidSpecError('spec', 'must be a JSON object');
  const traceId = str(value, 'traceId', 'traceId', true);
  const node = str(value, 'node', 'node', true);
  const gadget = value.gadget;
  if (gadget === undefined) throw new InvalidSpecError('gadget', 'is required');
  if (!isGadgetName(gadget)) {
    throw new InvalidSpecError('gadget', `must be one of ${GADGET_NAMES.join(', ')}, got ${JSON.stringify(gadget)}`);
  }
  const params = value.params ?? {};
  if (!isObject(params)) throw new InvalidSpecError('params', 'must be an object');
  if (value.durationSeconds === undefined) throw new InvalidSpecError('durationSeconds', 'is required');
  const durationSeconds = positiveNumber(value.durationSeconds, 'durationSeconds');
  const maxEvents = value.maxEvents === undefined ? DEFAULT_MAX_EVENTS : positiveInt(value.maxEvents, 'maxEvents');
  const spec: NodeJobSpec = {
    traceId,
    node,
    gadget,
    params,
    durationSeconds,
    maxEvents,
    targets: parseTargets(value.targets),
  };
  if (value.maxResultBytes !== undefined) spec.maxResultBytes = positiveInt(value.maxResultBytes, 'maxResultBytes');
  if (value.upload !== undefined) {
    if (!isObject(value.upload)) throw new InvalidSpecError('upload', 'must be an object with url and token');
    const url = httpUrl(str(value.upload, 'url', 'upload.url', true), 'upload.url');
    spec.upload = { url, token: str(value.upload, 'token', 'upload.token', true) };
    const progressUrl = str(value.upload, 'progressUrl', 'upload.progressUrl', false);
    if (progressUrl !== undefined) spec.upload.progressUrl = httpUrl(progressUrl, 'upload.progressUrl');
  }
  return spec;
}

function httpUrl(url: string, path: string): string {
  if (!/^https?:\/\//.test(url)) throw new InvalidSpecError(path, `must be an http(s) URL, got ${JSON.stringify(url)}`);
  try {
    new URL(url);
  } catch {
    throw new InvalidSpecError(path, `is not a valid URL: ${JSON.stringify(url)}`);
  }
  return url;
}

function parseTargets(value: unknown): NodeTargets {
  if (value === undefined) return {};
  if (!isObject(value)) throw new InvalidSpecError('targets', 'must be an object');
  const targets: NodeTargets = {};
  if (value.containers !== undefined) {
    targets.containers = array(value.containers, 'targets.containers').map((c, i) => {
      const path = `targets.containers[${i}]`;
      if (!isObject(c)) throw new InvalidSpecError(path, 'must be an object with containerId');
      const out: NonNullable<NodeTargets['containers']>[number] = { containerId: str(c, 'containerId', `${path}.containerId`, true) };
      for (const key of ['podUid', 'pod', 'namespace', 'container'] as const) {
        const v = str(c, key, `${path}.${key}`, false);
        if (v !== undefined) out[key] = v;
      }
      if (c.runtime !== undefined) {
        if (!['containerd', 'cri-o', 'docker', 'unknown'].includes(c.runtime as string)) {
          throw new InvalidSpecError(`${path}.runtime`, `must be containerd, cri-o, docker or unknown, got ${JSON.stringify(c.runtime)}`);
        }
        out.runtime = c.runtime as 'containerd';
      }
      return out;
    });
  }
  if (value.pods !== undefined) {
    targets.pods = array(value.pods, 'targets.pods').map((p, i) => {
      const path = `targets.pods[${i}]`;
      if (!isObject(p)) throw new InvalidSpecError(path, 'must be an object with podUid');
      const out: NonNullable<NodeTargets['pods']>[number] = { podUid: str(p, 'podUid', `${path}.podUid`, true) };
      for (const key of ['pod', 'namespace'] as const) {
        const v = str(p, key, `${path}.${key}`, false);
        if (v !== undefined) out[key] = v;
      }
      return out;
    });
  }
  if (value.cgroupPaths !== undefined) {
    targets.cgroupPaths = array(value.cgroupPaths, 'targets.cgroupPaths').map((p, i) => {
      if (typeof p !== 'string' || p.length === 0) {
        throw new InvalidSpecError(`targets.cgroupPaths[${i}]`, `must be a non-empty string, got ${JSON.stringify(p)}`);
      }
      return p;
    });
  }
  if (value.pids !== undefined) {
    targets.pids = array(value.pids, 'targets.pids').map((p, i) => positiveInt(p, `targets.pids[${i}]`));
  }
  if (value.allCgroups !== undefined) {
    if (typeof value.allCgroups !== 'boolean') throw new InvalidSpecError('targets.allCgroups', 'must be true or false');
    targets.allCgroups = value.allCgroups;
  }
  if (value.startup !== undefined) {
    if (!isObject(value.startup)) throw new InvalidSpecError('targets.startup', 'must be {timeoutSeconds}');
    targets.startup = { timeoutSeconds: positiveInt(value.startup.timeoutSeconds, 'targets.startup.timeoutSeconds') };
    if (targets.containers?.length || targets.pids?.length || targets.allCgroups) {
      throw new InvalidSpecError('targets.startup', 'a startup trace names pods or cgroupPaths (whose new containers it waits for), not containers, pids or allCgroups');
    }
  }
  return targets;
}

/** Parse JSON text from `source` (a file name or the env var's name) into a NodeJobSpec. */
export function parseNodeJobSpecJson(text: string, source: string): NodeJobSpec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new InvalidSpecError('spec', `${source} is not valid JSON: ${(err as Error).message}`);
  }
  return parseNodeJobSpec(value);
}

/** True when the spec names at least one target (or asks for every cgroup). */
export function hasTargets(t: NodeTargets): boolean {
  return Boolean(t.allCgroups) || [t.containers, t.pods, t.cgroupPaths, t.pids].some((list) => (list?.length ?? 0) > 0);
}
