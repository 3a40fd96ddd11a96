/**
 * Text of the tables of the gadgets that count in the kernel: blockio's latency histograms per disk
 * and operation (text bars, as biolatency prints them) and top processes; tcpdrop's drops per
 * reason and top (reason, flow, owner) rows. Pure.
 */
import type { BlockioSummary, TableAttribution, TcpdropFlowTable, TcpdropSummary } from '../contracts/index.ts';

const BAR_WIDTH = 40;

/** 12.0 KiB, 3.4 MiB: bytes for people. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** 850 us, 12.3 ms, 1.20 s. */
export function formatLatencyNs(ns: number): string {
  if (ns < 1_000_000) return `${Math.round(ns / 1000)} us`;
  if (ns < 1_000_000_000) return `${(ns / 1_000_000).toFixed(1)} ms`;
  return `${(ns / 1_000_000_000).toFixed(2)} s`;
}

/** A log2 histogram as biolatency prints it: one line per slot up to the last non-empty one. */
export function formatLog2Histogram(slots: readonly number[], unit = 'usecs'): string {
  const max = Math.max(0, ...slots);
  const rows = slots.map((count, i) => {
    const low = i === 0 ? 0 : 2 ** i;
    const high = 2 ** (i + 1) - 1;
    const stars = max > 0 ? Math.round((count / max) * BAR_WIDTH) : 0;
    return { range: `${low} -> ${high}`, count: String(count), bar: `|${'*'.repeat(stars).padEnd(BAR_WIDTH)}|` };
  });
  const rangeWidth = Math.max(unit.length, ...rows.map((r) => r.range.length));
  const countWidth = Math.max(5, ...rows.map((r) => r.count.length));
  const head = `${unit.padStart(rangeWidth)} : ${'count'.padEnd(countWidth)} distribution`;
  return [head, ...rows.map((r) => `${r.range.padStart(rangeWidth)} : ${r.count.padEnd(countWidth)} ${r.bar}`)].join('\n') + '\n';
}

/** pod/container (namespace), else the cgroup id. */
function owner(a: TableAttribution): string {
  const where = a.pod ? `${a.namespace ? `${a.namespace}/` : ''}${a.pod}${a.container ? `/${a.container}` : ''}` : a.cgroupId ? `cgroup ${a.cgroupId}` : '';
  return a.node ? `${where}${where ? ' ' : ''}@${a.node}` : where;
}

type Table = (headers: readonly string[], rows: readonly (readonly string[])[]) => string;

export function formatBlockio(b: BlockioSummary, renderTable: Table, topN = 10): string {
  let out = `\nblock I/O (${b.mode}): ${b.requests} requests, ${formatBytes(b.bytes)}${b.errors ? `, ${b.errors} failed` : ''}\n`;
  for (const d of b.perDevice) {
    const avg = d.requests > 0 ? formatLatencyNs(d.latencyNsTotal / d.requests) : '-';
    out += `\n${d.disk} (${d.device}) ${d.op}: ${d.requests} requests, ${formatBytes(d.bytes)}, avg ${avg}, max ${formatLatencyNs(d.latencyNsMax)}${d.errors ? `, ${d.errors} failed` : ''}\n`;
    out += formatLog2Histogram(d.latencyUsSlots);
  }
  if (b.topProcesses.length > 0) {
    out +=
      '\ntop processes (bytes)\n' +
      renderTable(
        ['BYTES', 'REQUESTS', 'AVG LAT', 'PID', 'COMM', 'OWNER'],
        b.topProcesses
          .slice(0, topN)
          .map((p) => [formatBytes(p.bytes), String(p.requests), p.requests > 0 ? formatLatencyNs(p.latencyNsTotal / p.requests) : '-', String(p.pid), p.comm, owner(p)]),
      );
  }
  return out;
}

function endpoint(addr: string | undefined, port: number | undefined): string {
  if (!addr) return '';
  const host = addr.includes(':') ? `[${addr}]` : addr;
  return port !== undefined ? `${host}:${port}` : host;
}

function flowRow(f: TcpdropFlowTable): string[] {
  return [String(f.drops), f.reason, f.protocol ?? '', endpoint(f.saddr, f.sport), endpoint(f.daddr, f.dport), f.state ?? '', f.pid ? String(f.pid) : '', f.comm, owner(f)];
}

export function formatTcpdrop(t: TcpdropSummary, renderTable: Table, topN = 10): string {
  let out = `\npackets dropped (${t.mode}): ${t.drops}\n`;
  if (t.perReason.length > 0) out += '\ndrops per reason\n' + renderTable(['DROPS', 'REASON'], t.perReason.map((r) => [String(r.drops), r.reason]));
  if (t.top.length > 0) {
    out += '\ntop drops (reason, flow, owner)\n' + renderTable(['DROPS', 'REASON', 'PROTO', 'SOURCE', 'DESTINATION', 'STATE', 'PID', 'COMM', 'OWNER'], t.top.slice(0, topN).map(flowRow));
  }
  return out;
}
