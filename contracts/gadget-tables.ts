/**
 * The tables of the gadgets that count in the kernel (blockio, tcpdrop): sections of a summary
 * (node or merged). The same shape in both modes (`summary`: counted in kernel maps; `stream`:
 * tallied from one event per request or drop). docs/events.md describes them.
 */

/** Where a row's process or socket belongs (the runner's attribution of its cgroup). */
export interface TableAttribution {
  cgroupId?: number;
  node?: string;
  namespace?: string;
  pod?: string;
  container?: string;
}

/** Block I/O of one disk and operation. */
export interface BlockioDeviceTable {
  disk: string;
  /** major:minor */
  device: string;
  /** read, write, flush, discard, ... */
  op: string;
  requests: number;
  bytes: number;
  errors: number;
  latencyNsTotal: number;
  latencyNsMax: number;
  /**
   * Requests per log2 latency slot in microseconds, as biolatency: slot 0 is 0–1 µs, slot n (n > 0)
   * is 2^n … 2^(n+1)−1 µs; trailing empty slots are left out.
   */
  latencyUsSlots: number[];
}

/** Block I/O of one process (pid and comm in one cgroup). */
export interface BlockioProcessTable extends TableAttribution {
  pid: number;
  comm: string;
  requests: number;
  bytes: number;
  latencyNsTotal: number;
}

export interface BlockioSummary {
  mode: 'summary' | 'stream';
  requests: number;
  bytes: number;
  errors: number;
  /** Every (disk, op), most requests first. */
  perDevice: BlockioDeviceTable[];
  /** The processes with the most bytes. */
  topProcesses: BlockioProcessTable[];
}

/** Drops of one reason, flow and owner. */
export interface TcpdropFlowTable extends TableAttribution {
  reason: string;
  /** The task when it ran in the socket's cgroup (a send), else 0 and ''. */
  pid: number;
  comm: string;
  protocol?: string;
  saddr?: string;
  sport?: number;
  daddr?: string;
  dport?: number;
  /** TCP state of the owning socket. */
  state?: string;
  drops: number;
}

export interface TcpdropSummary {
  mode: 'summary' | 'stream';
  drops: number;
  /** Every drop reason, most drops first. */
  perReason: { reason: string; drops: number }[];
  /** The (reason, flow, owner) rows with the most drops. */
  top: TcpdropFlowTable[];
}
