/**
 * What every gadget folder (bpf/gadgets/<name>/<name>.ts) exports: its params schema, the encoder of
 * its `config` struct, the decoder of its ring-buffer records and the description of its events.
 * The gadget session (gadget-session.ts) and the API's catalogue consume only this interface.
 */
import type { TObject } from '@sinclair/typebox';
import type { BaseEvent, GadgetName } from '../../contracts/index.ts';

/** What a decoder needs beyond the record bytes. */
export interface DecodeContext {
  /** Add to a CLOCK_BOOTTIME timestamp (ns) to get wall-clock ns since the epoch. */
  bootToWallOffsetNs: bigint;
}

/** A decoded event: the common fields, the gadget's name, and the gadget's own fields. */
export type GadgetEvent = BaseEvent & { gadget: GadgetName } & Record<string, unknown>;

/** A param that is not acceptable: `field` is the property inside params, e.g. `port`. */
export interface ParamProblem {
  field: string;
  message: string;
}

export type EventFieldType = 'string' | 'number' | 'boolean' | 'string[]';

/** One field of a gadget's events, beyond the common ones (timestamp, pid, tid, ppid, uid, comm, cgroupId). */
export interface EventField {
  name: string;
  type: EventFieldType;
  description: string;
  /** True when the field is absent from some events (e.g. `fd` of a failed open). */
  optional?: boolean;
}

export interface GadgetDefinition<E extends GadgetEvent = GadgetEvent> {
  readonly name: GadgetName;
  readonly description: string;
  /** TypeBox schema of the params: every property has a description; defaults where it has one. */
  readonly paramsSchema: TObject;
  /** The gadget's own event fields, in the order they are decoded. */
  readonly fields: readonly EventField[];
  /** Fields whose values the summary counts as top-N (common fields such as `comm` allowed). */
  readonly topFields: readonly string[];
  /** Object file path relative to the repository root, e.g. `bpf/gadgets/exec/exec.bpf.o`. */
  readonly objectFile: string;
  /** Checks the schema cannot express (e.g. a length in bytes); called after the schema passed. */
  checkParams?(params: Record<string, unknown>): ParamProblem[];
  /**
   * Bytes of the `config` global for params that passed validateParams (defaults applied).
   * The first byte is `filter_by_cgroup`.
   */
  encodeConfig(params: Record<string, unknown>, filterByCgroup: boolean): Buffer;
  /** One ring-buffer record (without the framing) to an event. Throws on a record too short for its layout. */
  decode(record: Buffer, ctx: DecodeContext): E;
}
