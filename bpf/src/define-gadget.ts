/**
 * defineGadget: a gadget's definition from its declarative parts — params schema, how each member
 * of its record struct is presented, which param sets each member of its config struct. The
 * decoder, the config encoder and the list of event fields derive from them and from the layout
 * in the BTF of the gadget's object (built lazily, on first use, and rebuilt when the object file
 * changes).
 */
import { statSync } from 'node:fs';
import type { TObject } from '@sinclair/typebox';
import type { GadgetName } from '../../contracts/index.ts';
import { Btf } from './btf.ts';
import type { DecodeContext, EventField, GadgetDefinition, GadgetEvent, ParamProblem, SummaryExtension } from './gadget-definition.ts';
import { MapAggregateCollector, type MapAggregateSpec } from './map-aggregate.ts';
import type { ConfigEncoder, ConfigSpec, EntryDecoder, RecordDecoder, RecordSpec } from './record-layout.ts';
import { buildConfigEncoder, buildEntryDecoder, buildRecordDecoder, eventFields } from './record-layout.ts';
import { findRepoRoot, gadgetObjectPath } from './repo-paths.ts';

export interface GadgetSpec {
  name: GadgetName;
  description: string;
  paramsSchema: TObject;
  topFields: readonly string[];
  countField?: string;
  record: RecordSpec;
  config: ConfigSpec;
  checkParams?(params: Record<string, unknown>): ParamProblem[];
  /**
   * Counting in a kernel map instead of streaming (when `enabled(params)`): each map entry becomes
   * one event; its fields join the catalogue's (a field of the same name as a record field is the
   * same field).
   */
  aggregate?: MapAggregateSpec;
  summaryExtension?(params: Record<string, unknown>): SummaryExtension;
}

interface Built<E> {
  mtimeMs: number;
  decoder: RecordDecoder<E>;
  encoder: ConfigEncoder;
  entryDecoder?: EntryDecoder<E>;
}

/** Thrown when a gadget's object is not built: its layout lives in that object. */
export class GadgetObjectMissingError extends Error {
  constructor(
    readonly gadget: string,
    readonly objectPath: string,
  ) {
    super(`gadget ${gadget}: object ${objectPath} is missing; build it with: make -C bpf`);
    this.name = 'GadgetObjectMissingError';
  }
}

export function defineGadget<E extends GadgetEvent>(spec: GadgetSpec): GadgetDefinition<E> {
  const objectFile = `bpf/gadgets/${spec.name}/${spec.name}.bpf.o`;
  const built = new Map<string, Built<E>>();
  let defaultPath: string | undefined;

  const build = (objectPath: string): Built<E> => {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(objectPath).mtimeMs;
    } catch {
      throw new GadgetObjectMissingError(spec.name, objectPath);
    }
    const cached = built.get(objectPath);
    if (cached?.mtimeMs === mtimeMs) return cached;
    const btf = Btf.fromObjectFile(objectPath);
    const fresh: Built<E> = { mtimeMs, decoder: buildRecordDecoder<E>(spec.name, spec.record, btf), encoder: buildConfigEncoder(spec.config, btf) };
    if (spec.aggregate) fresh.entryDecoder = buildEntryDecoder<E>(spec.name, spec.aggregate.entry, btf);
    built.set(objectPath, fresh);
    return fresh;
  };
  const atRoot = () => build((defaultPath ??= gadgetObjectPath(objectFile, findRepoRoot())));
  let fastDecoder: RecordDecoder<E> | undefined;

  return {
    name: spec.name,
    description: spec.description,
    paramsSchema: spec.paramsSchema,
    fields: allFields(spec),
    topFields: spec.topFields,
    ...(spec.countField ? { countField: spec.countField } : {}),
    objectFile,
    ...(spec.checkParams ? { checkParams: spec.checkParams } : {}),
    encodeConfig: (params, filterByCgroup) => atRoot().encoder(params, filterByCgroup),
    decode(record: Buffer, ctx: DecodeContext): E {
      fastDecoder ??= atRoot().decoder;
      return fastDecoder(record, ctx);
    },
    layoutFor(objectPath) {
      const { decoder, encoder } = build(objectPath);
      return { decode: decoder, encodeConfig: encoder };
    },
    ...(spec.aggregate ? { aggregate: mapAggregate(spec.aggregate, build) } : {}),
    ...(spec.summaryExtension ? { summaryExtension: spec.summaryExtension } : {}),
  };
}

function mapAggregate<E extends GadgetEvent>(aggregate: MapAggregateSpec, build: (objectPath: string) => Built<E>): NonNullable<GadgetDefinition<E>['aggregate']> {
  return {
    enabled: (params) => aggregate.enabled(params),
    attach() {}, // the SEC() names attach everything
    createCollector(object, _params, objectPath) {
      const decoder = build(objectPath).entryDecoder;
      if (!decoder) throw new Error(`no entry decoder for map ${aggregate.map}`);
      return new MapAggregateCollector<E>(object, aggregate, decoder);
    },
  };
}

/** The record's fields, then the aggregate entries' fields the record does not have. */
function allFields(spec: GadgetSpec): EventField[] {
  const fields = eventFields(spec.record);
  if (!spec.aggregate) return fields;
  const known = new Set(fields.map((f) => f.name));
  for (const f of eventFields(spec.aggregate.entry)) if (!known.has(f.name)) fields.push(f);
  return fields;
}

/** A config member from a numeric param, 0 when it is absent. */
export const paramOrZero =
  (key: string) =>
  (params: Record<string, unknown>): number =>
    typeof params[key] === 'number' ? params[key] : 0;

/** A config member from a boolean param. */
export const paramFlag =
  (key: string) =>
  (params: Record<string, unknown>): boolean =>
    params[key] === true;
