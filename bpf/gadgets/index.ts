/**
 * The gadget registry: one line per gadget. Adding a gadget = its folder + one line here
 * (its name must also be in contracts/gadgets.ts).
 */
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { GadgetName } from '../../contracts/index.ts';
import type { GadgetDefinition, GadgetEvent, ParamProblem } from '../src/gadget-definition.ts';
import { bindGadget } from './bind/bind.ts';
import { blockioGadget } from './blockio/blockio.ts';
import { dnsGadget } from './dns/dns.ts';
import { execGadget } from './exec/exec.ts';
import { mountGadget } from './mount/mount.ts';
import { oomkillGadget } from './oomkill/oomkill.ts';
import { openGadget } from './open/open.ts';
import { profileGadget } from './profile/profile.ts';
import { signalGadget } from './signal/signal.ts';
import { tcpconnectGadget } from './tcpconnect/tcpconnect.ts';
import { tcpdropGadget } from './tcpdrop/tcpdrop.ts';
import { tcpretransGadget } from './tcpretrans/tcpretrans.ts';

const registry: Record<GadgetName, GadgetDefinition<GadgetEvent>> = {
  exec: execGadget,
  open: openGadget,
  bind: bindGadget,
  tcpconnect: tcpconnectGadget,
  signal: signalGadget,
  oomkill: oomkillGadget,
  profile: profileGadget,
  tcpretrans: tcpretransGadget,
  mount: mountGadget,
  tcpdrop: tcpdropGadget,
  blockio: blockioGadget,
  dns: dnsGadget,
};

export type { GadgetDefinition, GadgetEvent, ParamProblem } from '../src/gadget-definition.ts';

/** The definition of a gadget, or undefined for a name not in the catalogue. */
export function getGadget(name: string): GadgetDefinition<GadgetEvent> | undefined {
  return Object.hasOwn(registry, name) ? registry[name as GadgetName] : undefined;
}

export function listGadgets(): GadgetDefinition<GadgetEvent>[] {
  return Object.values(registry);
}

// Params are checked on every POST: a compiled check is ~10× faster than walking the schema, and
// the walk that lists the errors runs only for params that fail it.
const compiledChecks = new Map<TSchema, TypeCheck<TSchema>>();
function compiledCheck(schema: TSchema): TypeCheck<TSchema> {
  let check = compiledChecks.get(schema);
  if (!check) compiledChecks.set(schema, (check = TypeCompiler.Compile(schema)));
  return check;
}

/**
 * The defaults of a params schema whose defaults are all on its own properties (every gadget's
 * today): filling them in is a copy, not a walk of the schema. Undefined when a default sits
 * deeper, which Value.Default handles.
 */
type TopLevelDefaults = [key: string, value: unknown][];
const topLevelDefaults = new Map<TSchema, TopLevelDefaults | undefined>();
function topLevelDefaultsOf(schema: TSchema): TopLevelDefaults | undefined {
  if (topLevelDefaults.has(schema)) return topLevelDefaults.get(schema);
  let out: TopLevelDefaults | undefined = [];
  const props = (schema as { properties?: Record<string, TSchema> }).properties;
  if (schema.type !== 'object' || !props) out = undefined;
  else {
    for (const [key, prop] of Object.entries(props)) {
      const { default: value, ...rest } = prop as TSchema & { default?: unknown };
      if (JSON.stringify(rest).includes('"default"')) out = undefined;
      else if (value !== undefined) out?.push([key, value]);
    }
  }
  topLevelDefaults.set(schema, out);
  return out;
}

function withDefaultsOf(schema: TSchema, input: object): Record<string, unknown> {
  const defaults = topLevelDefaultsOf(schema);
  if (!defaults) return Value.Default(schema, structuredClone(input)) as Record<string, unknown>;
  const out: Record<string, unknown> = { ...input };
  for (const [key, value] of defaults) if (out[key] === undefined) out[key] = structuredClone(value);
  return out;
}

export type ParamsValidation =
  | { ok: true; params: Record<string, unknown>; errors: [] }
  | { ok: false; errors: ParamProblem[] };

/**
 * Validate a gadget's params and fill in the defaults (the input is not modified). Problems name
 * the property inside params (`port`, `pathPrefix`; `''` for params as a whole; `gadget` for an
 * unknown gadget name).
 */
export function validateParams(name: string, params: unknown): ParamsValidation {
  const gadget = getGadget(name);
  if (!gadget) return { ok: false, errors: [{ field: 'gadget', message: `unknown gadget '${name}'` }] };
  const input = params ?? {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    return { ok: false, errors: [{ field: '', message: 'params must be an object' }] };
  }
  const withDefaults = withDefaultsOf(gadget.paramsSchema, input);
  const errors: ParamProblem[] = [];
  const check = compiledCheck(gadget.paramsSchema);
  if (!check.Check(withDefaults)) for (const e of check.Errors(withDefaults)) {
    const field = e.path.replace(/^\//, '').replace(/\//g, '.');
    if (!errors.some((x) => x.field === field)) errors.push({ field, message: e.message });
  }
  if (errors.length === 0 && gadget.checkParams) errors.push(...gadget.checkParams(withDefaults));
  return errors.length === 0 ? { ok: true, params: withDefaults, errors: [] } : { ok: false, errors };
}

/** Thrown by parseParams: the first problem's field, and all of them. */
export class GadgetParamsError extends Error {
  readonly field: string;
  constructor(
    readonly gadget: string,
    readonly problems: ParamProblem[],
  ) {
    const first = problems[0] ?? { field: '', message: 'invalid' };
    super(`invalid params for gadget '${gadget}': ${problems.map((p) => `${p.field || '(params)'}: ${p.message}`).join('; ')}`);
    this.name = 'GadgetParamsError';
    this.field = first.field === 'gadget' ? 'gadget' : first.field ? `params.${first.field}` : 'params';
  }
}

/** validateParams that throws GadgetParamsError; returns the params with defaults. */
export function parseParams(name: string, params: unknown): Record<string, unknown> {
  const result = validateParams(name, params);
  if (!result.ok) throw new GadgetParamsError(name, result.errors);
  return result.params;
}
