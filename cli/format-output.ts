/** Pure text formatting of what the CLI prints: aligned tables, a trace, a summary, a progress line. */
import { formatSeconds, type ProfileSummary } from '../contracts/index.ts';
import type { GadgetView, NodeView, ScheduleView, TraceSummary, TraceView, WatchStatus } from './api-types.ts';
import { formatBlockio, formatTcpdrop } from './format-gadget-tables.ts';

/** Columns padded to their widest cell, two spaces apart; no trailing spaces. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

function targetText(target: Record<string, unknown>): string {
  const parts: string[] = [];
  const names: Record<string, string> = { namespace: 'ns', labelSelector: 'l', podName: 'pod', containerName: 'container', nodeName: 'node', cgroupPaths: 'cgroup', pids: 'pid', containerIds: 'container-id' };
  for (const [key, short] of Object.entries(names)) {
    const v = target[key];
    if (v === undefined) continue;
    parts.push(`${short}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  }
  return parts.join(' ');
}

function nodeRows(nodes: readonly NodeView[]): string[][] {
  return nodes.map((n) => [n.node, n.status, String(n.events), String(n.lostEvents), n.stopReason ?? '', n.error ?? '']);
}

export const NODE_HEADERS = ['NODE', 'STATUS', 'EVENTS', 'LOST', 'STOP', 'ERROR'];

/** The warning every view of a result with lost events carries (empty when nothing was lost). */
export function lossWarning(events: number, lostEvents: number): string {
  if (lostEvents <= 0) return '';
  const pct = (100 * lostEvents) / (events + lostEvents);
  return `WARNING: ${lostEvents} events were lost in the kernel (ring buffer or a kernel table full, ${pct < 0.1 ? pct.toFixed(3) : pct.toFixed(1)} % of ${events + lostEvents}): the result is incomplete\n`;
}

export function formatTraceList(items: readonly TraceView[]): string {
  if (items.length === 0) return 'no traces\n';
  return renderTable(
    ['ID', 'STATUS', 'GADGET', 'DURATION', 'NODES', 'EVENTS', 'CREATED', 'TARGET'],
    items.map((t) => [t.id, t.status, t.gadget, formatSeconds(t.durationSeconds), String(t.nodes.length), String(t.counts.events), t.createdAt, targetText(t.target)]),
  );
}

export function formatTrace(t: TraceView): string {
  const lines = [
    `id:        ${t.id}`,
    `status:    ${t.status}`,
    `gadget:    ${t.gadget}`,
    `duration:  ${formatSeconds(t.durationSeconds)}`,
    `target:    ${targetText(t.target)}`,
    `created:   ${t.createdAt}`,
  ];
  if (t.startedAt) lines.push(`started:   ${t.startedAt}`);
  if (t.finishedAt) lines.push(`finished:  ${t.finishedAt}`);
  lines.push(`events:    ${t.counts.events} (lost ${t.counts.lostEvents})`);
  if (t.error) lines.push(`error:     ${t.error}`);
  let out = lines.join('\n') + '\n' + lossWarning(t.counts.events, t.counts.lostEvents);
  if (t.nodes.length > 0) out += '\n' + renderTable(NODE_HEADERS, nodeRows(t.nodes));
  return out;
}

/** The end-of-trace summary: status, counts, per-node table, top-N table per field. */
export function formatSummary(status: WatchStatus, summary: TraceSummary | undefined, topN = 10): string {
  let out = `trace ${status.id} ${status.status}: ${status.counts.events} events, ${status.counts.lostEvents} lost, ${status.counts.nodesDone}/${status.counts.nodesTotal} nodes\n`;
  out += lossWarning(status.counts.events, status.counts.lostEvents);
  if (status.error) out += `error: ${status.error}\n`;
  if (status.nodes.length > 0) out += '\n' + renderTable(NODE_HEADERS, nodeRows(status.nodes));
  if (summary) {
    if (summary.truncated) out += '\nnote: some events were dropped by the event cap (truncated)\n';
    for (const [field, entries] of Object.entries(summary.top)) {
      if (entries.length === 0) continue;
      out += `\ntop ${field}\n` + renderTable(['COUNT', field.toUpperCase()], entries.slice(0, topN).map((e) => [String(e.count), e.value]));
    }
    if (summary.profile) out += formatProfile(summary.profile, topN);
    if (summary.blockio) out += formatBlockio(summary.blockio, renderTable, topN);
    if (summary.tcpdrop) out += formatTcpdrop(summary.tcpdrop, renderTable, topN);
  }
  return out;
}

/** A profile's top functions: self samples (on CPU in the function itself) and total (with what it called). */
export function formatProfile(p: ProfileSummary, topN = 10): string {
  const pct = (n: number) => (p.samples > 0 ? `${((100 * n) / p.samples).toFixed(1)}%` : '-');
  let out = `\n${p.samples} CPU samples${p.frequencyHz ? ` at ${p.frequencyHz} Hz` : ''}, ${p.stacks} distinct stacks\n`;
  if (p.topSelf.length > 0) {
    out += '\ntop functions (self)\n' + renderTable(['SAMPLES', 'SHARE', 'FUNCTION'], p.topSelf.slice(0, topN).map((f) => [String(f.samples), pct(f.samples), f.frame]));
  }
  if (p.topTotal.length > 0) {
    out += '\ntop functions (total)\n' + renderTable(['SAMPLES', 'SHARE', 'FUNCTION'], p.topTotal.slice(0, topN).map((f) => [String(f.samples), pct(f.samples), f.frame]));
  }
  return out;
}

/** One line of live progress: `running    12s/30s  tracing 2/2  done 0/2  events 340  LOST 12`. */
export function formatProgressLine(s: WatchStatus): string {
  const elapsed = Math.min(s.elapsedSeconds, Math.max(s.durationSeconds, s.elapsedSeconds));
  const lost = s.counts.lostEvents > 0 ? `  LOST ${s.counts.lostEvents}` : '';
  const { nodesTracing, nodesDone, nodesTotal } = s.counts;
  return `${s.status.padEnd(9)}  ${formatSeconds(elapsed)}/${formatSeconds(s.durationSeconds)}  tracing ${nodesTracing}/${nodesTotal}  done ${nodesDone}/${nodesTotal}  events ${s.counts.events}${lost}`;
}

/**
 * Said once, the moment every planned node is tracing: from then on the user can reproduce the
 * problem. undefined until then (or when nothing is planned yet).
 */
export function formatTracingNotice(s: WatchStatus): string | undefined {
  const { nodesTracing, nodesTotal } = s.counts;
  if (nodesTotal === 0 || nodesTracing < nodesTotal) return undefined;
  const since = s.nodes.map((n) => n.tracingSince).filter((t): t is string => t !== undefined).sort().at(-1);
  return `tracing on ${nodesTracing}/${nodesTotal} node${nodesTotal === 1 ? '' : 's'}${since ? ` since ${since.slice(11, 23)}` : ''}: reproduce the problem now`;
}

const EVENT_BASE = new Set(['timestamp', 'node', 'namespace', 'pod', 'container', 'pid', 'tid', 'ppid', 'uid', 'comm', 'cgroupId', 'gadget']);

/** `HH:MM:SS.nnnnnnnnn` (UTC) of an event's timestamp: exact ns as a decimal string (older results: a number). */
export function timeOf(ns: unknown): string {
  let value: bigint;
  if (typeof ns === 'string' && /^\d{1,20}$/.test(ns)) value = BigInt(ns);
  else if (typeof ns === 'number' && Number.isSafeInteger(Math.floor(ns / 1e6))) value = BigInt(Math.floor(ns / 1e6)) * 1_000_000n;
  else return '';
  const ms = value / 1_000_000n;
  const fraction = (value % 1_000_000_000n).toString().padStart(9, '0');
  return `${new Date(Number(ms)).toISOString().slice(11, 19)}.${fraction}`;
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

export const EVENT_HEADERS = ['TIME', 'NODE', 'POD', 'CONTAINER', 'PID', 'COMM', 'DETAILS'];

/** Cells of one event row: the common fields, then the gadget's own fields as k=v. */
export function eventRow(e: Record<string, unknown>): string[] {
  const details = Object.entries(e)
    .filter(([k]) => !EVENT_BASE.has(k))
    .map(([k, v]) => `${k}=${cell(v)}`)
    .join(' ');
  const pod = e.namespace !== undefined && e.pod !== undefined ? `${cell(e.namespace)}/${cell(e.pod)}` : cell(e.pod);
  return [timeOf(e.timestamp), cell(e.node), pod, cell(e.container), cell(e.pid), cell(e.comm), details];
}

export function formatGadgets(items: readonly GadgetView[]): string {
  return renderTable(
    ['GADGET', 'TOP FIELDS', 'DESCRIPTION'],
    items.map((g) => [g.name, g.topFields.join(','), g.description]),
  );
}

const EVENT_WIDTHS = [18, 16, 24, 14, 7, 16];

/** One event as a fixed-width line (events stream, so widths cannot come from the data). */
export function formatEventLine(cells: readonly string[]): string {
  return cells
    .map((c, i) => (i < EVENT_WIDTHS.length ? c.padEnd(EVENT_WIDTHS[i]!) : c))
    .join(' ')
    .trimEnd();
}

function whenText(s: ScheduleView): string {
  if (s.every) return `every ${s.every}`;
  return `cron ${s.cron ?? '?'}${s.timeZone ? ` (${s.timeZone})` : ''}`;
}

export function formatScheduleList(items: readonly ScheduleView[]): string {
  if (items.length === 0) return 'no schedules\n';
  return renderTable(
    ['ID', 'WHEN', 'GADGET', 'DURATION', 'NEXT RUN', 'TARGET'],
    items.map((s) => [s.id, whenText(s), s.trace.gadget, formatSeconds(s.trace.durationSeconds), s.nextRunAt ?? '', targetText(s.trace.target)]),
  );
}

export function formatSchedule(s: ScheduleView): string {
  const lines = [
    `id:        ${s.id}`,
    `when:      ${whenText(s)}`,
    `gadget:    ${s.trace.gadget}`,
    `duration:  ${formatSeconds(s.trace.durationSeconds)}`,
    `target:    ${targetText(s.trace.target)}`,
    `owner:     ${s.owner}`,
    `created:   ${s.createdAt}`,
    `keep runs: ${s.keepRuns}`,
  ];
  if (s.nextRunAt) lines.push(`next run:  ${s.nextRunAt}`);
  let out = lines.join('\n') + '\n';
  const runs = s.runs ?? [];
  out += runs.length === 0 ? '\nno runs yet\n' : '\n' + renderTable(['TRACE', 'STATUS', 'CREATED'], runs.map((r) => [r.traceId, r.status ?? 'expired', r.createdAt ?? '']));
  return out;
}
