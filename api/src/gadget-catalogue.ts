/**
 * The gadget catalogue as the API sees it: names, params schema, event fields, top-N fields, and
 * params validation. Backed by the gadget registry `bpf/gadgets/index.ts`.
 */
import * as gadgetRegistry from '../../bpf/gadgets/index.ts';
import { GADGET_NAMES, type GadgetName } from '../../contracts/index.ts';

export interface GadgetField {
  name: string;
  type: string;
  description?: string;
}

export interface GadgetDescription {
  name: GadgetName;
  description: string;
  /** JSON schema (TypeBox) of the gadget's params. */
  params: unknown;
  fields: GadgetField[];
  topFields: string[];
}

export interface ParamsProblem {
  /** Field inside params, e.g. `filename` (the API reports it as `params.filename`). */
  field: string;
  message: string;
}

export interface GadgetCatalogue {
  list(): GadgetDescription[];
  get(name: string): GadgetDescription | undefined;
  /** Problems naming the field inside params, and the params with the gadget's defaults filled in. */
  validateParams(name: GadgetName, params: Record<string, unknown>): { problems: ParamsProblem[]; params: Record<string, unknown> };
}

interface RegistryModule {
  listGadgets(): unknown[];
  getGadget(name: string): unknown;
  validateParams(name: string, params: unknown): unknown;
}

function describe(raw: unknown): GadgetDescription | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const g = raw as Record<string, unknown>;
  const name = g.name;
  if (typeof name !== 'string' || !(GADGET_NAMES as readonly string[]).includes(name)) return undefined;
  const rawFields = Array.isArray(g.fields) ? g.fields : Array.isArray(g.eventFields) ? g.eventFields : [];
  const fields: GadgetField[] = rawFields.map((f: unknown) => {
    if (typeof f === 'string') return { name: f, type: 'string' };
    const o = (f ?? {}) as Record<string, unknown>;
    const field: GadgetField = { name: String(o.name ?? ''), type: String(o.type ?? 'string') };
    if (typeof o.description === 'string') field.description = o.description;
    return field;
  });
  return {
    name: name as GadgetName,
    description: typeof g.description === 'string' ? g.description : '',
    params: g.params ?? g.paramsSchema ?? { type: 'object', properties: {} },
    fields,
    topFields: Array.isArray(g.topFields) ? g.topFields.map(String) : [],
  };
}

function problemsOf(raw: unknown): ParamsProblem[] {
  if (raw === undefined || raw === null || raw === true) return [];
  if (typeof raw === 'object' && (raw as { ok?: unknown }).ok === true) return [];
  const list = Array.isArray(raw) ? raw : typeof raw === 'object' && Array.isArray((raw as { errors?: unknown }).errors) ? (raw as { errors: unknown[] }).errors : [];
  return list.map((p: unknown) => {
    if (typeof p === 'string') return { field: '', message: p };
    const o = (p ?? {}) as Record<string, unknown>;
    const field = String(o.field ?? o.path ?? '')
      .replace(/^\/+/, '')
      .replace(/\//g, '.')
      .replace(/^params\./, '');
    return { field, message: String(o.message ?? 'invalid') };
  });
}

/** The catalogue over the registry module's functions. */
export function catalogueFromRegistry(registry: RegistryModule): GadgetCatalogue {
  const all = registry
    .listGadgets()
    .map(describe)
    .filter((g): g is GadgetDescription => g !== undefined);
  const byName = new Map(all.map((g) => [g.name, g]));
  return {
    list: () => all,
    get: (name) => byName.get(name as GadgetName),
    validateParams: (name, params) => {
      const raw = registry.validateParams(name, params);
      const filled = raw && typeof raw === 'object' && (raw as { ok?: unknown }).ok === true ? (raw as { params?: Record<string, unknown> }).params : undefined;
      return { problems: problemsOf(raw), params: filled ?? params };
    },
  };
}

/** The project's gadget registry (bpf/gadgets/index.ts) as a catalogue. */
export async function loadGadgetCatalogue(): Promise<GadgetCatalogue> {
  return catalogueFromRegistry(gadgetRegistry as unknown as RegistryModule);
}
