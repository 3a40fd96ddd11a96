/** What tracejob says in Slack: pure functions from trace data to Slack message bodies (mrkdwn). */
import type { TraceTrigger } from '../../../contracts/index.ts';
import type { NodeView } from '../../../state/src/trace-store.ts';
import type { MergedSummary } from '../store/merge-summaries.ts';
import type { SlackRunTarget } from './slack-command-parser.ts';

export interface SlackMessage {
  response_type: 'ephemeral' | 'in_channel';
  text: string;
  replace_original?: boolean;
}

export function ephemeral(text: string): SlackMessage {
  return { response_type: 'ephemeral', text };
}

export function describeTarget(t: SlackRunTarget | Record<string, unknown>): string {
  const r = t as Record<string, unknown>;
  const parts: string[] = [];
  if (r.namespace) parts.push(`namespace \`${String(r.namespace)}\``);
  if (r.labelSelector) parts.push(`pods \`${String(r.labelSelector)}\``);
  if (r.podName) parts.push(`pod \`${String(r.podName)}\``);
  if (r.containerName) parts.push(`container \`${String(r.containerName)}\``);
  if (r.nodeName) parts.push(`node \`${String(r.nodeName)}\``);
  if (Array.isArray(r.cgroupPaths)) parts.push(`cgroup ${r.cgroupPaths.map((p) => `\`${String(p)}\``).join(', ')}`);
  if (Array.isArray(r.pids)) parts.push(`pid ${r.pids.join(', ')}`);
  return parts.join(', ');
}

const STATUS_EMOJI: Record<string, string> = {
  queued: ':hourglass:',
  running: ':hourglass_flowing_sand:',
  succeeded: ':white_check_mark:',
  partial: ':warning:',
  failed: ':x:',
  cancelled: ':no_entry_sign:',
};

function nodeLine(n: NodeView): string {
  const extra = [n.lostEvents > 0 ? `${n.lostEvents} lost` : '', n.truncated ? 'truncated' : '', n.error ? `error: ${n.error}` : ''].filter(Boolean).join(', ');
  return `• \`${n.node}\` ${n.status} — ${n.events} events${extra ? ` (${extra})` : ''}`;
}

/** Who started a trace nobody asked for directly: the alert (and rule) or the schedule. */
export function describeTrigger(trigger: TraceTrigger): string {
  if (trigger.kind === 'schedule') return `run of schedule \`${trigger.scheduleId}\``;
  const name = trigger.alertname ?? trigger.labels.alertname ?? 'an alert';
  return `started by alert *${name.replace(/[*`]/g, "'")}* (rule \`${trigger.rule}\`, fingerprint \`${trigger.fingerprint}\`)`;
}

export interface TraceFacts {
  id: string;
  status: string;
  gadget: string;
  durationSeconds: number;
  target: Record<string, unknown>;
  error?: string;
  nodes: NodeView[];
  trigger?: TraceTrigger;
}

export interface TraceLinks {
  bundle?: string;
  page?: string;
}

/** The message posted to response_url when a trace ends (and the answer to `status` of an ended trace). */
export function traceEndMessage(t: TraceFacts, summary: MergedSummary | undefined, links: TraceLinks, topN = 5): SlackMessage {
  const events = t.nodes.reduce((n, s) => n + s.events, 0);
  const lost = t.nodes.reduce((n, s) => n + s.lostEvents, 0);
  const lines = [
    `${STATUS_EMOJI[t.status] ?? ''} trace \`${t.id}\` *${t.status}* — \`${t.gadget}\` on ${describeTarget(t.target)} for ${t.durationSeconds}s`,
    `*${events}* events, *${lost}* lost${summary?.truncated ? ', truncated by the event cap' : ''}, ${t.nodes.length} node${t.nodes.length === 1 ? '' : 's'}`,
  ];
  if (t.trigger) lines.push(describeTrigger(t.trigger));
  if (lost > 0) lines.push(`:warning: *${lost} events were lost in the kernel* (ring buffer full): the result is incomplete`);
  if (t.error) lines.push(`error: ${t.error}`);
  if (t.nodes.length > 0) lines.push('*Nodes*', ...t.nodes.map(nodeLine));
  for (const [field, entries] of Object.entries(summary?.top ?? {})) {
    if (entries.length === 0) continue;
    lines.push(`*Top ${field}*`, ...entries.slice(0, topN).map((e) => `• \`${e.value.replace(/`/g, "'")}\` — ${e.count}`));
  }
  if (summary?.profile) {
    const p = summary.profile;
    const share = (n: number) => (p.samples > 0 ? `${((100 * n) / p.samples).toFixed(1)}%` : '0%');
    lines.push(`*CPU samples*: ${p.samples}${p.frequencyHz ? ` at ${p.frequencyHz} Hz` : ''}`);
    if (p.topSelf.length > 0) {
      lines.push('*Top functions (self)*', ...p.topSelf.slice(0, topN).map((f) => `• \`${f.frame.replace(/`/g, "'")}\` — ${f.samples} (${share(f.samples)})`));
    }
  }
  const linkParts = [links.bundle ? `<${links.bundle}|download the bundle>` : '', links.page ? `<${links.page}|open the trace>` : ''].filter(Boolean);
  if (linkParts.length > 0) lines.push(linkParts.join(' · '));
  return { response_type: 'ephemeral', text: lines.join('\n') };
}

/** Answer to `status` of a trace that is still queued or running. */
export function traceProgressMessage(t: TraceFacts): SlackMessage {
  const events = t.nodes.reduce((n, s) => n + s.events, 0);
  const lines = [`${STATUS_EMOJI[t.status] ?? ''} trace \`${t.id}\` is *${t.status}* — \`${t.gadget}\` on ${describeTarget(t.target)} for ${t.durationSeconds}s, ${events} events so far`];
  if (t.nodes.length > 0) lines.push(...t.nodes.map(nodeLine));
  return ephemeral(lines.join('\n'));
}
