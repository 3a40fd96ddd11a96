/**
 * What every gadget folder (bpf/gadgets/<name>/<name>.ts) exports: its params schema, the encoder of
 * its `config` struct, the decoder of its ring-buffer records and the description of its events.
 * The gadget session (gadget-session.ts) and the API's catalogue consume only this interface.
 */
import type { TObject } from '@sinclair/typebox';
import type { BaseEvent, GadgetName, NodeSummary, TraceEvent } from '../../contracts/index.ts';
import type { BpfObject } from '../native/index.js';

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

export type EventFieldType = 'string' | 'number' | 'boolean' | 'string[]' | 'number[]';

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
  /**
   * The field of an aggregated event (one kernel map entry) saying how many occurrences it stands
   * for (blockio `requests`, tcpdrop `packets`): top-N counts add it, so they count requests or
   * drops in either mode. Absent (or absent from an event): 1.
   */
  readonly countField?: string;
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
  /**
   * decode and encodeConfig built from the layouts in the object at `objectPath` (the one a session
   * loads), for gadgets whose layouts derive from the object's BTF; the plain decode/encodeConfig
   * use the object under the repository root.
   */
  layoutFor?(objectPath: string): Pick<GadgetDefinition<E>, 'decode' | 'encodeConfig'>;
  /** Present for a gadget that aggregates in the kernel instead of using the ring buffer. */
  readonly aggregate?: AggregatingGadget<E>;
  /** Present when the node summary has a section of the gadget's own (e.g. `profile`). */
  summaryExtension?(params: Record<string, unknown>): SummaryExtension;
}

/**
 * An aggregating gadget (e.g. `profile`) counts in kernel maps instead of sending a record per
 * event through the ring buffer. The session attaches it with `attach` (after the object's own
 * attach()), calls the collector's `poll` every `pollIntervalMs` (250 ms) while it traces, and after detaching
 * hands the collector's `collect()` to onEvents like any batch. Its `decode` is never called.
 */
export interface AggregatingGadget<E extends GadgetEvent = GadgetEvent> {
  /**
   * False when these params ask for the ring-buffer stream instead (blockio and tcpdrop with
   * `mode: 'stream'`): the session then reads records as for any other gadget. Absent: always.
   */
  enabled?(params: Record<string, unknown>): boolean;
  /** Attach what needs more than the SEC() name, e.g. one perf event per CPU. */
  attach(object: BpfObject, params: Record<string, unknown>): void;
  /** `objectPath`: the loaded object, whose BTF lays out the map entries. */
  createCollector(object: BpfObject, params: Record<string, unknown>, objectPath: string): AggregateCollector<E>;
}

export interface AggregateCollector<E extends GadgetEvent = GadgetEvent> {
  /** While tracing: read what must be read while the traced processes live. Must not throw. */
  poll(): void;
  /** After detach: the aggregated events (the maps stay readable until the session closes them). */
  collect(ctx: DecodeContext): E[];
  /** What the kernel could not count (all CPUs). */
  lost(): number;
}

/** Gadget-specific sections of the node summary, tallied from the enriched events the runner writes. */
export interface SummaryExtension {
  add(event: TraceEvent): void;
  result(): Partial<NodeSummary>;
}
