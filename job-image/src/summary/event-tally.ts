/**
 * Running counts for the summary, kept while events stream past (events are not held in memory):
 * events per cgroup and value counts per top field. High-cardinality fields (file names) are kept
 * bounded by lossy counting: past `maxDistinct` values the rarest half is pruned, so the heavy
 * hitters stay exact or nearly so and memory stays flat.
 */

export interface EventTallyState {
  events: number;
  perCgroup: Map<number, number>;
  /** field → value → count */
  values: Map<string, Map<string, number>>;
  /** fields whose counting had to prune values (their low counts are approximate) */
  pruned: Set<string>;
}

export class EventTally {
  readonly state: EventTallyState;

  constructor(
    private readonly topFields: readonly string[],
    private readonly maxDistinct = 20_000,
    /** An aggregated event's field of how many occurrences it stands for (top counts add it). */
    private readonly countField?: string,
  ) {
    this.state = { events: 0, perCgroup: new Map(), values: new Map(), pruned: new Set() };
    for (const f of topFields) this.state.values.set(f, new Map());
  }

  add(event: Record<string, unknown>): void {
    const s = this.state;
    s.events += 1;
    const cg = typeof event.cgroupId === 'number' ? event.cgroupId : 0;
    s.perCgroup.set(cg, (s.perCgroup.get(cg) ?? 0) + 1);
    const weight = this.countField !== undefined && typeof event[this.countField] === 'number' ? (event[this.countField] as number) : 1;
    for (const field of this.topFields) {
      const value = topValueOf(event[field]);
      if (value === undefined) continue;
      const counts = s.values.get(field)!;
      counts.set(value, (counts.get(value) ?? 0) + weight);
      if (counts.size > this.maxDistinct * 2) this.prune(field, counts);
    }
  }

  private prune(field: string, counts: Map<string, number>): void {
    const kept = [...counts].sort((a, b) => b[1] - a[1]).slice(0, this.maxDistinct);
    counts.clear();
    for (const [k, v] of kept) counts.set(k, v);
    this.state.pruned.add(field);
  }
}

/** How a field's value is counted: strings as they are, numbers/booleans as text, argv joined by spaces. */
export function topValueOf(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (Array.isArray(v)) return v.map((x) => String(x)).join(' ');
  return JSON.stringify(v);
}
