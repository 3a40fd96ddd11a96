/**
 * The collector of a gadget that counts in one kernel hash map (blockio, tcpdrop in their default
 * summary mode): at the end of the trace every entry of the map becomes one event, decoded with
 * the entry struct's layout from the object's BTF (record-layout.ts, buildEntryDecoder). What the
 * kernel could not count is the per-CPU `drops` counter (a full in-flight table, a failed
 * ring-buffer reserve) plus the gadget's per-CPU counter of updates refused by a full map.
 */
import type { BpfObject } from '../native/index.js';
import type { AggregateCollector, DecodeContext, GadgetEvent } from './gadget-definition.ts';
import type { EntryDecoder, EntrySpec } from './record-layout.ts';

export interface MapAggregateSpec {
  /** The hash map the kernel counts in, e.g. `blockio_stats`. */
  map: string;
  /** The per-CPU u64 (PERCPU_ARRAY, one entry) of what could not be counted because `map` was full. */
  fullCounter: string;
  /** How one entry of `map` is shown. */
  entry: EntrySpec;
  /** True for params that ask for the aggregate (false: the ring-buffer stream). */
  enabled(params: Record<string, unknown>): boolean;
}

/** The sum over CPUs of a PERCPU_ARRAY u64 value as mapLookup returns it (0 for none). */
export function perCpuSum(value: Buffer | null): number {
  let total = 0n;
  if (value) for (let off = 0; off + 8 <= value.length; off += 8) total += value.readBigUInt64LE(off);
  return Number(total);
}

export class MapAggregateCollector<E extends GadgetEvent> implements AggregateCollector<E> {
  constructor(
    private readonly object: BpfObject,
    private readonly spec: MapAggregateSpec,
    private readonly decoder: EntryDecoder<E>,
  ) {}

  /** Nothing to do while tracing: the map holds everything until the end. */
  poll(): void {}

  /** Updates the full map refused, plus the common `drops` counter. */
  lost(): number {
    const zero = Buffer.alloc(4);
    return perCpuSum(this.object.mapLookup('drops', zero)) + this.mapFull();
  }

  /** Only the updates the full map refused. */
  mapFull(): number {
    return perCpuSum(this.object.mapLookup(this.spec.fullCounter, Buffer.alloc(4)));
  }

  collect(ctx: DecodeContext): E[] {
    const { keys, values, count } = this.object.mapEntries(this.spec.map);
    const collectedAtNs = BigInt(Date.now()) * 1_000_000n;
    const { keySize, valueSize } = this.decoder;
    const out: E[] = [];
    for (let i = 0; i < count; i += 1) {
      out.push(this.decoder.decode(keys.subarray(i * keySize, (i + 1) * keySize), values.subarray(i * valueSize, (i + 1) * valueSize), ctx, collectedAtNs));
    }
    return out;
  }
}
