/**
 * tcpdrop's tables from its events: drops per reason and the (reason, flow, owner) rows with the
 * most drops. A summary-mode event is one kernel map entry (with `packets`); a stream-mode event
 * is one dropped packet. Pure; used by the runner (node summary) and the API (merged).
 */
import type { TcpdropFlowTable, TcpdropSummary } from '../../../contracts/index.ts';

export const TCPDROP_TOP_N = 20;

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

const FLOW_FIELDS = ['node', 'namespace', 'pod', 'container', 'protocol', 'saddr', 'daddr', 'state'] as const;

function flowKey(f: TcpdropFlowTable): string {
  return JSON.stringify([f.reason, f.node, f.cgroupId, f.pid, f.comm, f.protocol, f.saddr, f.sport, f.daddr, f.dport, f.state]);
}

export class TcpdropTally {
  private readonly reasons = new Map<string, number>();
  private readonly flows = new Map<string, TcpdropFlowTable>();
  private drops = 0;

  constructor(private readonly mode: TcpdropSummary['mode']) {}

  /** One enriched tcpdrop event (either mode). */
  add(e: Record<string, unknown>): void {
    const reason = str(e.reason);
    if (reason === undefined) return;
    const flow: TcpdropFlowTable = { reason, pid: num(e.pid), comm: str(e.comm) ?? '', drops: typeof e.packets === 'number' ? e.packets : 1 };
    if (typeof e.cgroupId === 'number') flow.cgroupId = e.cgroupId;
    for (const k of FLOW_FIELDS) {
      const v = str(e[k]);
      if (v !== undefined) flow[k] = v;
    }
    if (typeof e.sport === 'number') flow.sport = e.sport;
    if (typeof e.dport === 'number') flow.dport = e.dport;
    this.addFlow(flow);
  }

  addFlow(f: TcpdropFlowTable): void {
    this.drops += f.drops;
    this.reasons.set(f.reason, (this.reasons.get(f.reason) ?? 0) + f.drops);
    const key = flowKey(f);
    const known = this.flows.get(key);
    if (known) known.drops += f.drops;
    else this.flows.set(key, { ...f });
  }

  /** Drops counted per reason and in the total, of rows not kept (beyond a node's top N). */
  addRest(reason: string, drops: number): void {
    this.drops += drops;
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + drops);
  }

  result(topN = TCPDROP_TOP_N): TcpdropSummary {
    const perReason = [...this.reasons]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([reason, drops]) => ({ reason, drops }));
    const top = [...this.flows.values()].sort((a, b) => b.drops - a.drops || flowKey(a).localeCompare(flowKey(b))).slice(0, topN);
    return { mode: this.mode, drops: this.drops, perReason, top };
  }
}

/** The nodes' tables as one (rows keep their node). */
export function mergeTcpdropSummaries(parts: readonly { node: string; tcpdrop: TcpdropSummary }[], topN = TCPDROP_TOP_N): TcpdropSummary {
  const tally = new TcpdropTally(parts[0]?.tcpdrop.mode ?? 'summary');
  for (const { node, tcpdrop } of parts) {
    for (const f of tcpdrop.top) tally.addFlow({ ...f, node: f.node ?? node });
    // drops of rows beyond a node's top N still count per reason and in the total
    const shown = new Map<string, number>();
    for (const f of tcpdrop.top) shown.set(f.reason, (shown.get(f.reason) ?? 0) + f.drops);
    for (const r of tcpdrop.perReason) {
      const rest = r.drops - (shown.get(r.reason) ?? 0);
      if (rest > 0) tally.addRest(r.reason, rest);
    }
  }
  return tally.result(topN);
}
