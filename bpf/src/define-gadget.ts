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
import type { DecodeContext, GadgetDefinition, GadgetEvent, ParamProblem } from './gadget-definition.ts';
import type { ConfigEncoder, ConfigSpec, RecordDecoder, RecordSpec } from './record-layout.ts';
import { buildConfigEncoder, buildRecordDecoder, eventFields } from './record-layout.ts';
import { findRepoRoot, gadgetObjectPath } from './repo-paths.ts';

export interface GadgetSpec {
  name: GadgetName;
  description: string;
  paramsSchema: TObject;
  topFields: readonly string[];
  record: RecordSpec;
  config: ConfigSpec;
  checkParams?(params: Record<string, unknown>): ParamProblem[];
}

interface Built<E> {
  mtimeMs: number;
  decoder: RecordDecoder<E>;
  encoder: ConfigEncoder;
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
    const fresh = { mtimeMs, decoder: buildRecordDecoder<E>(spec.name, spec.record, btf), encoder: buildConfigEncoder(spec.config, btf) };
    built.set(objectPath, fresh);
    return fresh;
  };
  const atRoot = () => build((defaultPath ??= gadgetObjectPath(objectFile, findRepoRoot())));
  let fastDecoder: RecordDecoder<E> | undefined;

  return {
    name: spec.name,
    description: spec.description,
    paramsSchema: spec.paramsSchema,
    fields: eventFields(spec.record),
    topFields: spec.topFields,
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
  };
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
