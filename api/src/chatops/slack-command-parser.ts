/**
 * The text of a Slack slash command → what to do. Pure; every refusal carries a reply that says
 * what was wrong and what to type instead.
 *
 *   help
 *   [run] <gadget> ns=NS [app=web | -l SELECTOR] [pod=P] [container=C] [node=N] [30s|2m|1m30s]
 *          [param k=v]... [max-events=N]            (Kubernetes)
 *   [run] <gadget> cgroup=PATH | pid=N ... [30s]    (local backend)
 *   status <trace-id>
 *   cancel <trace-id>
 */
import { GADGET_NAMES, hasDurationUnits, isGadgetName, parseDuration, type GadgetName, type KubernetesTarget, type LocalTarget } from '../../../contracts/index.ts';

/** A Kubernetes target, or cgroups/pids for the local backend. */
export type SlackRunTarget = Partial<KubernetesTarget> & Omit<LocalTarget, 'containerIds'>;

export type SlackCommand =
  | { kind: 'help' }
  | { kind: 'run'; gadget: GadgetName; target: SlackRunTarget; durationSeconds?: number; params: Record<string, unknown>; maxEvents?: number }
  | { kind: 'status'; id: string }
  | { kind: 'cancel'; id: string }
  | { kind: 'invalid'; reply: string };

const TRACE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const NODE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,252}$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
const SELECTOR = /^[A-Za-z0-9./_=!,() -]+$/;

class Refusal extends Error {}

function refuse(message: string, command: string): never {
  throw new Refusal(`${message}\nTry \`${command} help\`.`);
}

/** Chat durations: whole seconds with the unit written (`30s`, `2m`, `1m30s`). */
const CHAT_DURATION = { wholeSeconds: true, unitRequired: true } as const;

function idCommand(kind: 'status' | 'cancel', args: string[], command: string): SlackCommand {
  if (args.length === 0) refuse(`\`${kind}\` needs a trace id: \`${command} ${kind} <trace-id>\`.`, command);
  if (args.length > 1) refuse(`\`${kind}\` takes one trace id, got ${args.length} words.`, command);
  const id = args[0]!.toLowerCase();
  if (!TRACE_ID.test(id)) refuse(`\`${args[0]}\` is not a trace id (ids look like \`3f2a1c4e-1b2c-4d5e-8f90-0123456789ab\`).`, command);
  return { kind, id };
}

function coerce(raw: string): unknown {
  if (/^-?\d+$/.test(raw) && Number.isSafeInteger(Number(raw))) return Number(raw);
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  return raw;
}

function parseRun(gadgetWord: string, args: string[], command: string): SlackCommand {
  if (!isGadgetName(gadgetWord)) {
    refuse(`I don't know the gadget \`${gadgetWord}\`. Gadgets: ${GADGET_NAMES.map((g) => `\`${g}\``).join(', ')}.`, command);
  }
  const target: SlackRunTarget = {};
  const selector: string[] = [];
  const params: Record<string, unknown> = {};
  let durationSeconds: number | undefined;
  let maxEvents: number | undefined;
  const once = (key: keyof SlackRunTarget, value: string, word: string) => {
    if (target[key] !== undefined) refuse(`\`${word}\` is given twice.`, command);
    (target as Record<string, unknown>)[key] = value;
  };
  for (let i = 0; i < args.length; i += 1) {
    const word = args[i]!;
    const next = () => {
      const v = args[i + 1];
      if (v === undefined) refuse(`\`${word}\` needs a value after it.`, command);
      i += 1;
      return v;
    };
    if (hasDurationUnits(word, CHAT_DURATION) || word === '-d') {
      const text = word === '-d' ? next() : word;
      const d = parseDuration(text, CHAT_DURATION);
      if ('error' in d) {
        refuse(hasDurationUnits(text, CHAT_DURATION) ? 'the duration must be more than 0 seconds.' : `\`${text}\` is not a duration; write \`30s\`, \`2m\` or \`1m30s\`.`, command);
      }
      if (durationSeconds !== undefined) refuse(`the duration is given twice (\`${text}\`).`, command);
      durationSeconds = d.seconds;
      continue;
    }
    if (/^\d+$/.test(word)) refuse(`\`${word}\`: say the unit of the duration, e.g. \`${word}s\`.`, command);
    if (word === 'param' || word === '--param') {
      const kv = next();
      const eq = kv.indexOf('=');
      if (eq <= 0) refuse(`\`param\` needs \`key=value\`, got \`${kv}\`.`, command);
      const key = kv.slice(0, eq);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) refuse(`param name \`${key}\` must be letters, digits or _.`, command);
      params[key] = coerce(kv.slice(eq + 1));
      continue;
    }
    if (word === '-n' || word === '-l') {
      const value = next();
      if (word === '-n') {
        if (!DNS_LABEL.test(value)) refuse(`\`${value}\` is not a namespace name.`, command);
        once('namespace', value, 'ns');
      } else {
        if (!SELECTOR.test(value)) refuse(`\`${value}\` is not a label selector (like \`app=web,tier!=db\`).`, command);
        selector.push(value);
      }
      continue;
    }
    const m = /^([^=!]+)(!?=)(.*)$/.exec(word);
    if (!m) refuse(`I don't understand \`${word}\`.`, command);
    const [, key, op, value] = m as unknown as [string, string, string, string];
    if (op === '=' && value === '' ) refuse(`\`${key}=\` needs a value.`, command);
    switch (op === '=' ? key : '') {
      case 'ns':
      case 'namespace':
        if (!DNS_LABEL.test(value)) refuse(`\`${value}\` is not a namespace name (lower-case letters, digits and -).`, command);
        once('namespace', value, 'ns');
        break;
      case 'l':
      case 'selector':
        if (!SELECTOR.test(value)) refuse(`\`${value}\` is not a label selector (like \`app=web,tier!=db\`).`, command);
        selector.push(value);
        break;
      case 'pod':
        if (!DNS_SUBDOMAIN.test(value)) refuse(`\`${value}\` is not a pod name.`, command);
        once('podName', value, 'pod');
        break;
      case 'container':
        if (!DNS_LABEL.test(value)) refuse(`\`${value}\` is not a container name.`, command);
        once('containerName', value, 'container');
        break;
      case 'node':
        if (!NODE_NAME.test(value)) refuse(`\`${value}\` is not a node name.`, command);
        once('nodeName', value, 'node');
        break;
      case 'cgroup':
        if (value.split('/').includes('..')) refuse(`cgroup path \`${value}\` must not contain \`..\`.`, command);
        (target.cgroupPaths ??= []).push(value);
        break;
      case 'pid':
        if (!/^\d+$/.test(value) || Number(value) < 1) refuse(`\`pid=${value}\`: a pid is a whole number.`, command);
        (target.pids ??= []).push(Number(value));
        break;
      case 'max-events':
      case 'max':
        if (!/^\d+$/.test(value) || Number(value) < 1) refuse(`\`${key}=${value}\`: the event cap is a whole number of at least 1.`, command);
        maxEvents = Number(value);
        break;
      default:
        // Anything else shaped like a label (`app=web`, `tier!=db`) is a label selector term.
        if (!LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) refuse(`\`${word}\` is neither an option nor a label (like \`app=web\`).`, command);
        selector.push(`${key}${op}${value}`);
    }
  }
  if (selector.length > 0) target.labelSelector = selector.join(',');
  const k8s = ['namespace', 'labelSelector', 'podName', 'containerName', 'nodeName'].some((k) => k in target);
  const local = target.cgroupPaths !== undefined || target.pids !== undefined;
  if (!k8s && !local) refuse(`say what to trace, e.g. \`${command} ${gadgetWord} ns=shop app=web 30s\`.`, command);
  if (k8s && local) refuse('Kubernetes targets (ns, labels, pod, container, node) and local ones (cgroup, pid) do not mix.', command);
  if (k8s && target.namespace === undefined) refuse(`name the namespace: \`ns=<namespace>\` (e.g. \`${command} ${gadgetWord} ns=shop ${target.labelSelector ?? 'app=web'}\`).`, command);
  const out: SlackCommand = { kind: 'run', gadget: gadgetWord as GadgetName, target, params };
  if (durationSeconds !== undefined) out.durationSeconds = durationSeconds;
  if (maxEvents !== undefined) out.maxEvents = maxEvents;
  return out;
}

/** Parses the slash command's `text`; `command` is the slash command itself (e.g. `/trace`) for the replies. */
export function parseSlackCommand(text: string, command = '/trace'): SlackCommand {
  const words = text.trim().split(/\s+/).filter(Boolean);
  try {
    const [first, ...rest] = words;
    if (first === undefined || first === 'help' || first === '-h' || first === '--help') return { kind: 'help' };
    const verb = first.toLowerCase();
    if (verb === 'status' || verb === 'cancel') return idCommand(verb, rest, command);
    if (verb === 'run') {
      if (rest.length === 0) refuse(`\`run\` needs a gadget: \`${command} run exec ns=shop app=web 30s\`.`, command);
      return parseRun(rest[0]!, rest.slice(1), command);
    }
    return parseRun(first, rest, command);
  } catch (err) {
    if (err instanceof Refusal) return { kind: 'invalid', reply: err.message };
    throw err;
  }
}

export function slackHelp(command = '/trace'): string {
  return [
    '*tracejob* runs a timed BPF trace of your pods and reports back here.',
    `• \`${command} exec ns=shop app=web 30s\` — trace process executions of pods labelled app=web in namespace shop for 30 s`,
    `• options: \`-l app=web,tier!=db\`, \`pod=NAME\`, \`container=NAME\`, \`node=NAME\`, \`param key=value\`, \`max-events=N\`, durations \`30s\` \`2m\` \`1m30s\``,
    `• gadgets: ${GADGET_NAMES.map((g) => `\`${g}\``).join(', ')}`,
    `• \`${command} status <trace-id>\` — where a trace is`,
    `• \`${command} cancel <trace-id>\` — stop a trace early (what it saw is kept)`,
  ].join('\n');
}
