/**
 * The command line → one typed command, or a UsageError that says what is wrong.
 * Pure: no I/O, no environment (the caller passes `env`).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseDuration, type KubernetesTarget, type LocalTarget } from '../contracts/index.ts';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type OutputFormat = 'table' | 'json';

export interface Connection {
  server: string;
  token?: string;
}

/** Either kind of target (Kubernetes or local), as the user typed it; the API tells which one it accepts. */
export type RunTarget = Partial<KubernetesTarget> & LocalTarget;

export type Command =
  | { kind: 'help'; topic?: string }
  | { kind: 'version' }
  | {
      kind: 'run';
      gadget: string;
      target: RunTarget;
      durationSeconds?: number;
      params: Record<string, unknown>;
      maxEvents?: number;
      callbackUrl?: string;
      wait: boolean;
      output: OutputFormat;
    }
  | { kind: 'get'; id: string; output: OutputFormat }
  | { kind: 'ls'; output: OutputFormat; status?: string; limit?: number }
  | { kind: 'events'; id: string; follow: boolean; output: OutputFormat }
  | { kind: 'bundle'; id: string; file: string }
  | { kind: 'cancel'; id: string }
  | { kind: 'delete'; id: string }
  | { kind: 'gadgets'; output: OutputFormat }
  | {
      kind: 'schedule-create';
      trace: Omit<Command & { kind: 'run' }, 'kind' | 'wait' | 'output'>;
      every?: string;
      cron?: string;
      timeZone?: string;
      keepRuns?: number;
      output: OutputFormat;
    }
  | { kind: 'schedule-ls'; output: OutputFormat }
  | { kind: 'schedule-get'; id: string; output: OutputFormat }
  | { kind: 'schedule-rm'; id: string };

export interface ParsedCommandLine {
  command: Command;
  connection: Connection;
}

export const DEFAULT_SERVER = 'http://127.0.0.1:8080';

export const USAGE = `Usage: tracejob <command> [options]

Commands:
  run <gadget> [target] [-d 30s] [--param k=v]... [--max-events N] [--wait]
      target (Kubernetes): -n NAMESPACE [-l SELECTOR] [--pod P] [--container C] [--node N]
      target (local):      --cgroup PATH... | --pid PID... | --container-id ID...
      --wait shows live progress on stderr and a summary at the end
      --startup [--startup-timeout 5m]  wait for the next container start and trace it from its first instruction
  get <id>                     a trace: status, per-node status, counts
  ls [--status S] [--limit N]  traces, newest first
  events <id> [--follow]       the trace's events (--follow: as nodes finish, until the trace ends)
  bundle <id> -o FILE          download the bundle (tar.gz); -o - writes to stdout
  cancel <id>                  cancel a queued or running trace
  delete <id>                  delete a finished trace and its results
  gadgets                      the gadget catalogue
  schedule create <gadget> [target] [-d 30s] (--every 1h | --cron "0 3 * * *" [--tz Europe/Paris]) [--keep-runs N]
                               a trace that starts itself (same target options as run)
  schedule ls                  schedules, newest first
  schedule get <id>            a schedule and its runs (trace ids, newest first)
  schedule rm <id>             delete a schedule (its runs' traces stay)

Options for every command:
  --server URL   API server (env TRACEJOB_SERVER, default ${DEFAULT_SERVER})
  --token TOKEN  bearer token (env TRACEJOB_TOKEN)
  -o json|table  output format (get, ls, events, gadgets, run --wait)
  -h, --help     this help

Exit codes: 0 success, 1 trace failed/partial/cancelled or server error, 2 usage error.
`;

const COMMON = {
  server: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const OUTPUT = { output: { type: 'string', short: 'o' } } as const satisfies ParseArgsConfig['options'];

const RUN_OPTIONS = {
  ...COMMON,
  ...OUTPUT,
  namespace: { type: 'string', short: 'n' },
  selector: { type: 'string', short: 'l' },
  pod: { type: 'string' },
  container: { type: 'string' },
  node: { type: 'string' },
  cgroup: { type: 'string', multiple: true },
  pid: { type: 'string', multiple: true },
  'container-id': { type: 'string', multiple: true },
  duration: { type: 'string', short: 'd' },
  param: { type: 'string', short: 'p', multiple: true },
  'max-events': { type: 'string' },
  'callback-url': { type: 'string' },
  wait: { type: 'boolean', short: 'w' },
  startup: { type: 'boolean' },
  'startup-timeout': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const SCHEDULE_CREATE_OPTIONS = {
  ...RUN_OPTIONS,
  every: { type: 'string' },
  cron: { type: 'string' },
  tz: { type: 'string' },
  'keep-runs': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

const TRACE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, sub: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(`${sub}: ${msg}`);
  }
}

function outputOf(raw: string | undefined, sub: string): OutputFormat {
  if (raw === undefined || raw === 'table') return 'table';
  if (raw === 'json') return 'json';
  throw new UsageError(`${sub}: -o must be json or table, got ${JSON.stringify(raw)}`);
}

function positiveInt(raw: string, what: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) {
    throw new UsageError(`${what} must be a whole number of at least 1, got ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

function oneId(positionals: string[], sub: string, what = 'trace'): string {
  if (positionals.length === 0) throw new UsageError(`${sub}: missing the ${what} id (tracejob ${sub} ID)`);
  if (positionals.length > 1) throw new UsageError(`${sub}: one ${what} id expected, got ${positionals.length} arguments`);
  const id = positionals[0]!;
  if (!TRACE_ID.test(id)) throw new UsageError(`${sub}: ${JSON.stringify(id)} is not a ${what} id (a UUID such as 3f2a…-…)`);
  return id;
}

/** `k=v` → typed value: integers and true/false become numbers and booleans, the rest stays a string. */
export function parseParam(text: string): [string, unknown] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UsageError(`--param must be key=value, got ${JSON.stringify(text)}`);
  const key = text.slice(0, eq);
  const raw = text.slice(eq + 1);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new UsageError(`--param key ${JSON.stringify(key)} must be letters, digits or _`);
  if (/^-?\d+$/.test(raw) && Number.isSafeInteger(Number(raw))) return [key, Number(raw)];
  if (raw === 'true') return [key, true];
  if (raw === 'false') return [key, false];
  return [key, raw];
}

function connectionOf(values: { server?: string; token?: string }, env: Readonly<Record<string, string | undefined>>): Connection {
  const server = (values.server ?? env.TRACEJOB_SERVER ?? DEFAULT_SERVER).replace(/\/+$/, '');
  try {
    const u = new URL(server);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    throw new UsageError(`--server must be an http(s) URL, got ${JSON.stringify(server)}`);
  }
  const token = values.token ?? env.TRACEJOB_TOKEN;
  return token ? { server, token } : { server };
}

function parseRun(args: string[], sub = 'run', options: NonNullable<ParseArgsConfig['options']> = RUN_OPTIONS): Command & { kind: 'run' } {
  const { values: parsed, positionals } = parse(args, options, sub);
  const v = parsed as { [K in keyof typeof RUN_OPTIONS]?: (typeof RUN_OPTIONS)[K] extends { multiple: true } ? string[] : (typeof RUN_OPTIONS)[K] extends { type: 'boolean' } ? boolean : string };
  if (positionals.length === 0) throw new UsageError(`${sub}: missing the gadget (tracejob ${sub} <gadget> ...; see tracejob gadgets)`);
  if (positionals.length > 1) throw new UsageError(`${sub}: unexpected argument ${JSON.stringify(positionals[1])}`);
  const target: RunTarget = {};
  if (v.namespace !== undefined) target.namespace = v.namespace;
  if (v.selector !== undefined) target.labelSelector = v.selector;
  if (v.pod !== undefined) target.podName = v.pod;
  if (v.container !== undefined) target.containerName = v.container;
  if (v.node !== undefined) target.nodeName = v.node;
  if (v.cgroup !== undefined) target.cgroupPaths = v.cgroup;
  if (v.pid !== undefined) target.pids = v.pid.map((p) => positiveInt(p, '--pid'));
  if (v['container-id'] !== undefined) target.containerIds = v['container-id'];
  const k8s = ['namespace', 'labelSelector', 'podName', 'containerName', 'nodeName'].some((k) => k in target);
  const local = ['cgroupPaths', 'pids', 'containerIds'].some((k) => k in target);
  if (!k8s && !local) throw new UsageError('run: name a target: -n NAMESPACE [-l SELECTOR] on Kubernetes, or --cgroup/--pid/--container-id locally');
  if (k8s && local) throw new UsageError('run: Kubernetes targets (-n, -l, --pod, --container, --node) and local targets (--cgroup, --pid, --container-id) do not mix');
  if (k8s && target.namespace === undefined) throw new UsageError('run: -n NAMESPACE is required with -l/--pod/--container/--node');
  if (v.startup) target.startup = true;
  if (v['startup-timeout'] !== undefined) {
    if (!v.startup) throw new UsageError(`${sub}: --startup-timeout goes with --startup`);
    const d = parseDuration(v['startup-timeout'], { wholeSeconds: true });
    if ('error' in d) throw new UsageError(`${sub}: --startup-timeout: ${d.error}`);
    target.startupTimeoutSeconds = d.seconds;
  }
  const cmd: Command & { kind: 'run' } = { kind: 'run', gadget: positionals[0]!, target, params: {}, wait: v.wait ?? false, output: outputOf(v.output, sub) };
  if (v.duration !== undefined) {
    const d = parseDuration(v.duration, { wholeSeconds: true });
    if ('error' in d) throw new UsageError(`${sub}: -d: ${d.error}`);
    cmd.durationSeconds = d.seconds;
  }
  for (const p of v.param ?? []) {
    const [key, value] = parseParam(p);
    cmd.params[key] = value;
  }
  if (v['max-events'] !== undefined) cmd.maxEvents = positiveInt(v['max-events'], '--max-events');
  if (v['callback-url'] !== undefined) cmd.callbackUrl = v['callback-url'];
  return cmd;
}

function parseSchedule(rest: string[]): { command: Command; values: { server?: string; token?: string } } {
  const [action, ...args] = rest;
  const sub = `schedule ${action ?? ''}`.trim();
  switch (action) {
    case 'create': {
      const { values: v } = parse(args, SCHEDULE_CREATE_OPTIONS, sub);
      if (v.help) return { command: { kind: 'help', topic: 'schedule' }, values: v };
      const { kind: _kind, wait: _wait, output, ...trace } = parseRun(args, sub, SCHEDULE_CREATE_OPTIONS);
      if ((v.every === undefined) === (v.cron === undefined)) throw new UsageError(`${sub}: give --every INTERVAL or --cron PATTERN`);
      if (v.tz !== undefined && v.cron === undefined) throw new UsageError(`${sub}: --tz goes with --cron`);
      const command: Command & { kind: 'schedule-create' } = { kind: 'schedule-create', trace, output };
      if (v.every !== undefined) command.every = v.every;
      if (v.cron !== undefined) command.cron = v.cron;
      if (v.tz !== undefined) command.timeZone = v.tz;
      if (v['keep-runs'] !== undefined) command.keepRuns = positiveInt(v['keep-runs'], '--keep-runs');
      return { command, values: v };
    }
    case 'ls':
    case 'list':
    case 'get': {
      const { values: v, positionals } = parse(args, { ...COMMON, ...OUTPUT }, sub);
      if (v.help) return { command: { kind: 'help', topic: 'schedule' }, values: v };
      const output = outputOf(v.output, sub);
      if (action === 'get') return { command: { kind: 'schedule-get', id: oneId(positionals, sub, 'schedule'), output }, values: v };
      if (positionals.length > 0) throw new UsageError(`${sub}: unexpected argument ${JSON.stringify(positionals[0])}`);
      return { command: { kind: 'schedule-ls', output }, values: v };
    }
    case 'rm':
    case 'delete': {
      const { values: v, positionals } = parse(args, COMMON, sub);
      if (v.help) return { command: { kind: 'help', topic: 'schedule' }, values: v };
      return { command: { kind: 'schedule-rm', id: oneId(positionals, sub, 'schedule') }, values: v };
    }
    default:
      throw new UsageError(`schedule: ${action === undefined ? 'missing' : `unknown action ${JSON.stringify(action)};`} use schedule create|ls|get|rm`);
  }
}

/** Parses argv (without `node` and the script); throws UsageError. */
export function parseCommandLine(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): ParsedCommandLine {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === 'help' || sub === '--help' || sub === '-h') {
    return { command: { kind: 'help', topic: rest[0] }, connection: { server: DEFAULT_SERVER } };
  }
  if (sub === 'version' || sub === '--version') return { command: { kind: 'version' }, connection: { server: DEFAULT_SERVER } };
  let command: Command;
  let values: { server?: string; token?: string; help?: boolean };
  switch (sub) {
    case 'run': {
      const { values: v } = parse(rest, RUN_OPTIONS, 'run');
      values = v;
      command = v.help ? { kind: 'help', topic: 'run' } : parseRun(rest);
      break;
    }
    case 'get':
    case 'events':
    case 'gadgets':
    case 'ls':
    case 'list': {
      const opts =
        sub === 'events'
          ? { ...COMMON, ...OUTPUT, follow: { type: 'boolean', short: 'f' } as const }
          : sub === 'ls' || sub === 'list'
            ? { ...COMMON, ...OUTPUT, status: { type: 'string' } as const, limit: { type: 'string' } as const }
            : { ...COMMON, ...OUTPUT };
      const { values: v, positionals } = parse(rest, opts, sub);
      values = v;
      const output = outputOf(v.output as string | undefined, sub);
      if (v.help) command = { kind: 'help', topic: sub };
      else if (sub === 'get') command = { kind: 'get', id: oneId(positionals, sub), output };
      else if (sub === 'events') command = { kind: 'events', id: oneId(positionals, sub), follow: Boolean((v as { follow?: boolean }).follow), output };
      else {
        if (positionals.length > 0) throw new UsageError(`${sub}: unexpected argument ${JSON.stringify(positionals[0])}`);
        if (sub === 'gadgets') command = { kind: 'gadgets', output };
        else {
          const lv = v as { status?: string; limit?: string };
          command = { kind: 'ls', output };
          if (lv.status !== undefined) command.status = lv.status;
          if (lv.limit !== undefined) command.limit = positiveInt(lv.limit, '--limit');
        }
      }
      break;
    }
    case 'bundle': {
      const { values: v, positionals } = parse(rest, { ...COMMON, ...OUTPUT }, sub);
      values = v;
      if (v.help) command = { kind: 'help', topic: sub };
      else {
        const id = oneId(positionals, sub);
        if (v.output === undefined || v.output === '') throw new UsageError('bundle: -o FILE is required (-o - for stdout)');
        command = { kind: 'bundle', id, file: v.output };
      }
      break;
    }
    case 'cancel':
    case 'delete': {
      const { values: v, positionals } = parse(rest, COMMON, sub);
      values = v;
      command = v.help ? { kind: 'help', topic: sub } : { kind: sub, id: oneId(positionals, sub) };
      break;
    }
    case 'schedule':
    case 'schedules': {
      const parsed = parseSchedule(rest);
      values = parsed.values;
      command = parsed.command;
      break;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(sub)}; commands: run, get, ls, events, bundle, cancel, delete, gadgets, schedule`);
  }
  return { command, connection: connectionOf(values, env) };
}
