/** The trace's summary.json: counts and top-N values merged across its nodes' summaries. */
import type { BlockioSummary, ContainerCount, NodeSummary, ProfileSummary, TargetNotFound, TcpdropSummary, TopEntry } from '../../../contracts/index.ts';
import { mergeBlockioSummaries } from '../../../bpf/gadgets/blockio/blockio-summary.ts';
import { mergeProfileSummaries } from '../../../bpf/gadgets/profile/profile-summary.ts';
import { mergeTcpdropSummaries } from '../../../bpf/gadgets/tcpdrop/tcpdrop-summary.ts';

export interface MergedSummary {
  traceId: string;
  gadget?: string;
  nodes: number;
  events: number;
  lostEvents: number;
  truncated: boolean;
  perNode: { node: string; events: number; lostEvents: number; truncated: boolean; stopReason?: string; error?: string }[];
  perContainer: (ContainerCount & { node: string })[];
  top: Record<string, TopEntry[]>;
  targetsNotFound: (TargetNotFound & { node: string })[];
  /** `profile` traces: samples and top functions of all nodes (per container with its node). */
  profile?: ProfileSummary;
  /** `blockio` traces: the nodes' histograms and top processes as one (processes with their node). */
  blockio?: BlockioSummary;
  /** `tcpdrop` traces: the nodes' drops per reason and top rows as one (rows with their node). */
  tcpdrop?: TcpdropSummary;
}

export function mergeNodeSummaries(traceId: string, summaries: readonly NodeSummary[], topN = 10): MergedSummary {
  const tallies = new Map<string, Map<string, number>>();
  const merged: MergedSummary = {
    traceId,
    nodes: summaries.length,
    events: 0,
    lostEvents: 0,
    truncated: false,
    perNode: [],
    perContainer: [],
    top: {},
    targetsNotFound: [],
  };
  for (const s of [...summaries].sort((a, b) => a.node.localeCompare(b.node))) {
    if (s.gadget && !merged.gadget) merged.gadget = s.gadget;
    merged.events += s.events;
    merged.lostEvents += s.lostEvents;
    merged.truncated ||= Boolean(s.truncated);
    const perNode: MergedSummary['perNode'][number] = { node: s.node, events: s.events, lostEvents: s.lostEvents, truncated: Boolean(s.truncated) };
    if (s.stopReason) perNode.stopReason = s.stopReason;
    if (s.error) perNode.error = s.error;
    merged.perNode.push(perNode);
    for (const c of s.perContainer ?? []) merged.perContainer.push({ ...c, node: s.node });
    for (const t of s.targetsNotFound ?? []) merged.targetsNotFound.push({ ...t, node: s.node });
    for (const [field, entries] of Object.entries(s.top ?? {})) {
      let tally = tallies.get(field);
      if (!tally) tallies.set(field, (tally = new Map()));
      for (const e of entries) tally.set(e.value, (tally.get(e.value) ?? 0) + e.count);
    }
  }
  const profiles = summaries.filter((s) => s.profile).map((s) => ({ node: s.node, profile: s.profile! }));
  if (profiles.length > 0) merged.profile = mergeProfileSummaries(profiles, topN * 2);
  const blockio = summaries.filter((s) => s.blockio).map((s) => ({ node: s.node, blockio: s.blockio! }));
  if (blockio.length > 0) merged.blockio = mergeBlockioSummaries(blockio, topN * 2);
  const tcpdrop = summaries.filter((s) => s.tcpdrop).map((s) => ({ node: s.node, tcpdrop: s.tcpdrop! }));
  if (tcpdrop.length > 0) merged.tcpdrop = mergeTcpdropSummaries(tcpdrop, topN * 2);
  for (const [field, tally] of tallies) {
    merged.top[field] = [...tally.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, topN)
      .map(([value, count]) => ({ value, count }));
  }
  return merged;
}
