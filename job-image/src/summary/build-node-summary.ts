/** summary.json of one node: a pure function of the tally and what the run recorded. */
import type { GadgetName, NodeSummary, StartupObservation, StopReason, TargetNotFound, TopEntry } from '../../../contracts/index.ts';
import type { CgroupAttribution } from '../cgroup/target-resolver.ts';
import type { EventTallyState } from './event-tally.ts';

export interface NodeRunRecord {
  traceId: string;
  node: string;
  gadget: GadgetName;
  startedAt: Date;
  stoppedAt: Date;
  stopReason: StopReason;
  lostEvents: number;
  truncated: boolean;
  targetsNotFound: TargetNotFound[];
  cgroupIds: number[];
  /** Attribution of each known cgroup id. */
  attribution: ReadonlyMap<number, CgroupAttribution>;
  error?: string;
  versions?: Record<string, string>;
  startup?: StartupObservation;
}

export const DEFAULT_TOP_N = 10;

export function buildNodeSummary(tally: EventTallyState, run: NodeRunRecord, topN = DEFAULT_TOP_N): NodeSummary {
  const perContainer = [...tally.perCgroup]
    .map(([cgroupId, events]) => ({ cgroupId, ...(run.attribution.get(cgroupId) ?? {}), events }))
    .sort((a, b) => b.events - a.events || a.cgroupId - b.cgroupId);
  const top: Record<string, TopEntry[]> = {};
  for (const [field, counts] of tally.values) {
    top[field] = [...counts]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, topN)
      .map(([value, count]) => ({ value, count }));
  }
  const summary: NodeSummary = {
    traceId: run.traceId,
    node: run.node,
    gadget: run.gadget,
    startedAt: run.startedAt.toISOString(),
    stoppedAt: run.stoppedAt.toISOString(),
    stopReason: run.stopReason,
    events: tally.events,
    lostEvents: run.lostEvents,
    truncated: run.truncated,
    perContainer,
    top,
    targetsNotFound: run.targetsNotFound,
    cgroupIds: [...run.cgroupIds].sort((a, b) => a - b),
  };
  if (run.error !== undefined) summary.error = run.error;
  if (run.versions !== undefined) summary.versions = run.versions;
  if (run.startup !== undefined) summary.startup = run.startup;
  return summary;
}
