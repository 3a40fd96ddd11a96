/**
 * blockio's tables from its events: per (disk, op) the requests, bytes, errors and the log2
 * latency histogram, and the processes with the most bytes. A summary-mode event is one kernel
 * map entry (a process's requests on one disk and op, with `requests` and `latencyUsSlots`); a
 * stream-mode event is one request. Pure; used by the runner (node summary) and the API (merged).
 */
import type { BlockioDeviceTable, BlockioProcessTable, BlockioSummary } from '../../../contracts/index.ts';

export const BLOCKIO_TOP_PROCESSES = 20;
/** BLOCKIO_LATENCY_SLOTS of blockio.bpf.c: the last slot holds everything from 2^26 µs up. */
export const BLOCKIO_LATENCY_SLOTS = 27;

/** The slot of a latency (ns), as the kernel side computes it. */
export function latencySlot(latencyNs: number): number {
  const us = Math.floor(latencyNs / 1000);
  return us < 2 ? 0 : Math.min(Math.floor(Math.log2(us)), BLOCKIO_LATENCY_SLOTS - 1);
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function addSlots(into: number[], slots: readonly number[]): void {
  for (let i = 0; i < slots.length; i += 1) into[i] = (into[i] ?? 0) + (slots[i] ?? 0);
}

function trimmed(slots: number[]): number[] {
  const out = Array.from(slots, (n) => n ?? 0);
  while (out.length > 0 && out[out.length - 1] === 0) out.pop();
  return out;
}

function processKey(p: Pick<BlockioProcessTable, 'node' | 'cgroupId' | 'pid' | 'comm'>): string {
  return JSON.stringify([p.node ?? '', p.cgroupId ?? 0, p.pid, p.comm]);
}

export class BlockioTally {
  private readonly devices = new Map<string, BlockioDeviceTable>();
  private readonly processes = new Map<string, BlockioProcessTable>();
  private requests = 0;
  private bytes = 0;
  private errors = 0;

  constructor(private readonly mode: BlockioSummary['mode']) {}

  /** One enriched blockio event (either mode). */
  add(e: Record<string, unknown>): void {
    const disk = str(e.disk);
    const op = str(e.op);
    if (disk === undefined || op === undefined) return;
    const row = typeof e.requests === 'number';
    const requests = row ? num(e.requests) : 1;
    const bytes = num(e.bytes);
    const errors = row ? num(e.errors) : e.error !== undefined ? 1 : 0;
    const latencyTotal = row ? num(e.latencyNsTotal) : num(e.latencyNs);
    const latencyMax = row ? num(e.latencyNsMax) : num(e.latencyNs);
    const slots: number[] = [];
    if (row && Array.isArray(e.latencyUsSlots)) addSlots(slots, e.latencyUsSlots.map(num));
    else slots[latencySlot(num(e.latencyNs))] = 1;
    this.addDevice({ disk, device: str(e.device) ?? '', op, requests, bytes, errors, latencyNsTotal: latencyTotal, latencyNsMax: latencyMax, latencyUsSlots: slots });
    const p: BlockioProcessTable = { pid: num(e.pid), comm: str(e.comm) ?? '', requests, bytes, latencyNsTotal: latencyTotal };
    if (typeof e.cgroupId === 'number') p.cgroupId = e.cgroupId;
    for (const k of ['node', 'namespace', 'pod', 'container'] as const) {
      const v = str(e[k]);
      if (v !== undefined) p[k] = v;
    }
    this.addProcess(p);
  }

  addDevice(d: BlockioDeviceTable): void {
    this.requests += d.requests;
    this.bytes += d.bytes;
    this.errors += d.errors;
    const key = JSON.stringify([d.disk, d.device, d.op]);
    const known = this.devices.get(key);
    if (!known) {
      this.devices.set(key, { ...d, latencyUsSlots: [...d.latencyUsSlots] });
      return;
    }
    known.requests += d.requests;
    known.bytes += d.bytes;
    known.errors += d.errors;
    known.latencyNsTotal += d.latencyNsTotal;
    known.latencyNsMax = Math.max(known.latencyNsMax, d.latencyNsMax);
    addSlots(known.latencyUsSlots, d.latencyUsSlots);
  }

  addProcess(p: BlockioProcessTable): void {
    const key = processKey(p);
    const known = this.processes.get(key);
    if (!known) {
      this.processes.set(key, { ...p });
      return;
    }
    known.requests += p.requests;
    known.bytes += p.bytes;
    known.latencyNsTotal += p.latencyNsTotal;
  }

  result(topN = BLOCKIO_TOP_PROCESSES): BlockioSummary {
    const perDevice = [...this.devices.values()]
      .map((d) => ({ ...d, latencyUsSlots: trimmed(d.latencyUsSlots) }))
      .sort((a, b) => b.requests - a.requests || a.disk.localeCompare(b.disk) || a.op.localeCompare(b.op));
    const topProcesses = [...this.processes.values()]
      .sort((a, b) => b.bytes - a.bytes || b.requests - a.requests || a.pid - b.pid || a.comm.localeCompare(b.comm))
      .slice(0, topN);
    return { mode: this.mode, requests: this.requests, bytes: this.bytes, errors: this.errors, perDevice, topProcesses };
  }
}

/**
 * The nodes' tables as one: devices of the same name on different nodes are different disks, so
 * each device row keeps its node's name in `disk` only when more than one node reported
 * (`node/disk`); processes keep their node.
 */
export function mergeBlockioSummaries(parts: readonly { node: string; blockio: BlockioSummary }[], topN = BLOCKIO_TOP_PROCESSES): BlockioSummary {
  const tally = new BlockioTally(parts[0]?.blockio.mode ?? 'summary');
  const manyNodes = new Set(parts.map((p) => p.node)).size > 1;
  for (const { node, blockio } of parts) {
    for (const d of blockio.perDevice) tally.addDevice({ ...d, disk: manyNodes ? `${node}/${d.disk}` : d.disk });
    for (const p of blockio.topProcesses) tally.addProcess({ ...p, node: p.node ?? node });
  }
  return tally.result(topN);
}
