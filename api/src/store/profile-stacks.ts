/**
 * A `profile` trace's stacks merged across its nodes (and the threads, processes and containers the
 * filter keeps): read from the stored events, one per (thread, stack) with its folded stack and
 * sample count. Also the bundle's profile.folded and profile.svg.
 */
import { flameGraphSvg } from '../../../bpf/gadgets/profile/flame-graph-svg.ts';
import { FoldedStacks, ProfileTally } from '../../../bpf/gadgets/profile/profile-summary.ts';
import type { ProfileSummary } from '../../../contracts/index.ts';
import { eventsNdjson, type EventFilter } from './event-pages.ts';
import type { EventQuery } from './event-query.ts';
import type { ResultStore } from './result-store.ts';

export interface MergedProfile {
  stacks: FoldedStacks;
  summary: ProfileSummary;
}

export async function mergedProfile(store: ResultStore, traceId: string, filter: EventFilter): Promise<MergedProfile> {
  const stacks = new FoldedStacks();
  const tally = new ProfileTally();
  let pending = '';
  const take = (line: string) => {
    if (line.trim() === '') return;
    let event: unknown;
    try {
      event = JSON.parse(line);
    } catch {
      return; // a line a runner cut short (killed while writing)
    }
    if (!event || typeof event !== 'object') return;
    stacks.add(event);
    tally.add(event as Record<string, unknown>);
  };
  const q: EventQuery = { equals: [] };
  if (filter.node !== undefined) q.node = filter.node;
  for (const field of ['pod', 'container'] as const) {
    const value = filter[field];
    if (value !== undefined) q.equals.push({ field, kind: 'string', value });
  }
  // Every stack is read once: the NDJSON scan is the whole answer, no columnar copy needed.
  for await (const chunk of (await eventsNdjson(store, undefined, traceId, q)) as AsyncIterable<Buffer>) {
    pending += chunk.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      take(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  }
  take(pending);
  return { stacks, summary: tally.result() };
}

export function profileSvg(profile: MergedProfile, title: string): string {
  return flameGraphSvg(profile.stacks.counts, { title });
}
