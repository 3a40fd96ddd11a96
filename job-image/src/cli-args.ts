/**
 * The runner's command line: flags, `--spec FILE` and the TRACEJOB_NODE_JOB env var, merged into one
 * NodeJobSpec (flags win over the spec) plus the runner's own options. Pure: no file or env access
 * beyond what the caller hands in.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { parseDuration, type NodeJobSpec } from '../../contracts/index.ts';
import { DEFAULT_RING_BUFFER_BYTES_PER_CPU } from '../../bpf/src/ring-buffer-size.ts';
import { DEFAULT_MAX_EVENTS, InvalidSpecError, hasTargets, parseNodeJobSpec, parseNodeJobSpecJson } from './node-job-spec.ts';

export const RUNNER_USAGE = `Usage: tracejob-runner [options]

Runs one trace on this node: finds the targets' cgroups, runs the gadget until the deadline,
the event cap or a signal, writes events.ndjson + summary.json to --out, and uploads them.

Job:
  --spec FILE             NodeJobSpec JSON (also: env TRACEJOB_NODE_JOB); flags below override it
  --gadget NAME           exec, open, bind, tcpconnect, signal, oomkill, tcpretrans,
                          mount, tcpdrop, blockio, dns
  --duration D            10, 10s, 500ms, 1m, 1m30s
  --param k=v             gadget parameter (repeatable; v parsed as JSON when it parses, else a string)
  --max-events N          stop after N events (default ${DEFAULT_MAX_EVENTS})
  --max-bytes N           cap events.ndjson at N bytes (then stop, marked truncated)
  --trace-id ID           default local-<time>
  --node NAME             default the host name
Targets (repeatable, combine freely):
  --cgroup PATH           cgroup v2 directory, absolute or relative to the cgroup root
  --pid PID               the cgroup of a process
  --container-id ID       a container (containerd, CRI-O, Docker; systemd or cgroupfs driver)
  --pod-uid UID           every container of a pod, including ones started during the trace
  --all                   trace every cgroup (no filter)
Environment:
  --cgroup-root DIR       cgroup v2 root (default: from /proc/self/mountinfo; env TRACEJOB_CGROUP_ROOT)
  --rescan-interval D     how often to look for new target containers (default 1s; 0 = never)
  --ring-buffer-per-cpu N ring buffer bytes per CPU of the node (default 2097152; the ring is the
                          next power of two of N x CPUs, 256 KiB..256 MiB; env TRACEJOB_RING_BUFFER_PER_CPU)
  --live-decode-share F   share of one CPU (0..1) spent decoding while tracing (default 0.25); the rest
                          of a storm waits on disk and is decoded after the stop (env TRACEJOB_LIVE_DECODE_SHARE)
Output:
  --out DIR               where events.ndjson and summary.json go (default ./tracejob-<trace id>)
  --upload-url URL        PUT the result tar.gz there
  --upload-token TOKEN    bearer token for the upload (env TRACEJOB_UPLOAD_TOKEN)
  --upload-attempts N     attempts before giving up (default 5)
  --upload-backoff D      first retry delay, doubled each time with jitter (default 500ms)
  --progress              progress line on stderr even when it is not a terminal
  --await-job             (alone) load everything, then read the job's own flags from stdin as one
                          JSON array line: a warm runner, started ahead of its trace
  --help                  this text

Exit codes: 0 done, 1 failure, 2 usage error, 3 upload failed (files kept), 4 no target found.`;

/** Share of one CPU the runner decodes with while it traces: the traced workloads keep the rest. */
export const DEFAULT_LIVE_DECODE_SHARE = 0.25;

/** A command line the runner cannot run; the message says what to fix. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface RunnerOptions {
  outDir: string;
  cgroupRoot?: string;
  /** 0 disables the rescan. */
  rescanIntervalMs: number;
  /** Ring buffer bytes per CPU of the node (the ring is sized from it at load). */
  ringBufferBytesPerCpu: number;
  /** Share of one CPU (0..1) spent decoding while tracing. */
  liveDecodeShare: number;
  uploadAttempts: number;
  uploadBackoffMs: number;
  /** How often the live counts are reported to the API (upload.progressUrl). */
  progressIntervalMs: number;
  progress: boolean;
}

export type RunnerCommand = { kind: 'help' } | { kind: 'run'; spec: NodeJobSpec; options: RunnerOptions };

export interface RunnerInputs {
  argv: string[];
  env: Record<string, string | undefined>;
  /** Reads the --spec file (the caller's fs). */
  readFile(path: string): string;
  /** stderr is a terminal: progress shown by default. */
  stderrIsTTY: boolean;
  now?: Date;
}

export function parseRunnerCommand(input: RunnerInputs): RunnerCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: input.argv,
      strict: true,
      allowPositionals: false,
      options: {
        spec: { type: 'string' },
        gadget: { type: 'string' },
        duration: { type: 'string' },
        param: { type: 'string', multiple: true },
        'max-events': { type: 'string' },
        'max-bytes': { type: 'string' },
        'trace-id': { type: 'string' },
        node: { type: 'string' },
        cgroup: { type: 'string', multiple: true },
        pid: { type: 'string', multiple: true },
        'container-id': { type: 'string', multiple: true },
        'pod-uid': { type: 'string', multiple: true },
        all: { type: 'boolean' },
        'cgroup-root': { type: 'string' },
        'rescan-interval': { type: 'string' },
        'ring-buffer-per-cpu': { type: 'string' },
        'live-decode-share': { type: 'string' },
        out: { type: 'string' },
        'upload-url': { type: 'string' },
        'upload-token': { type: 'string' },
        'upload-attempts': { type: 'string' },
        'upload-backoff': { type: 'string' },
        progress: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  const f = parsed.values;
  if (f.help) return { kind: 'help' };

  let base: Record<string, unknown> = {};
  try {
    if (f.spec !== undefined) {
      let text: string;
      try {
        text = input.readFile(f.spec);
      } catch (err) {
        throw new UsageError(`--spec ${f.spec}: ${(err as Error).message}`);
      }
      base = { ...parseNodeJobSpecJson(text, f.spec) };
    } else if (input.env.TRACEJOB_NODE_JOB) {
      base = { ...parseNodeJobSpecJson(input.env.TRACEJOB_NODE_JOB, 'TRACEJOB_NODE_JOB') };
    }
  } catch (err) {
    if (err instanceof InvalidSpecError) throw new UsageError(`invalid node job spec: ${err.message}`);
    throw err;
  }

  const merged: Record<string, unknown> = { ...base };
  const now = input.now ?? new Date();
  merged.traceId = f['trace-id'] ?? merged.traceId ?? `local-${now.toISOString().replace(/[-:.]/g, '').replace('T', '-').slice(0, 15)}`;
  merged.node = f.node ?? merged.node ?? hostname();
  if (f.gadget !== undefined) merged.gadget = f.gadget;
  if (merged.gadget === undefined) throw new UsageError('--gadget is required (or a --spec naming one)');
  if (f.duration !== undefined) merged.durationSeconds = durationFlag('--duration', f.duration);
  if (merged.durationSeconds === undefined) throw new UsageError('--duration is required (or a --spec with durationSeconds)');
  if (f['max-events'] !== undefined) merged.maxEvents = positiveIntFlag('--max-events', f['max-events']);
  if (f['max-bytes'] !== undefined) merged.maxResultBytes = positiveIntFlag('--max-bytes', f['max-bytes']);
  if (f.param) merged.params = { ...((merged.params as Record<string, unknown>) ?? {}), ...parseParams(f.param) };

  const targets = { ...((merged.targets as Record<string, unknown[]>) ?? {}) } as NonNullable<NodeJobSpec['targets']>;
  if (f.cgroup) targets.cgroupPaths = [...(targets.cgroupPaths ?? []), ...f.cgroup];
  if (f.pid) targets.pids = [...(targets.pids ?? []), ...f.pid.map((p) => positiveIntFlag('--pid', p))];
  if (f['container-id']) targets.containers = [...(targets.containers ?? []), ...f['container-id'].map((containerId) => ({ containerId }))];
  if (f['pod-uid']) targets.pods = [...(targets.pods ?? []), ...f['pod-uid'].map((podUid) => ({ podUid }))];
  if (f.all) targets.allCgroups = true;
  merged.targets = targets;
  if (!hasTargets(targets)) throw new UsageError('no target: give --cgroup, --pid, --container-id, --pod-uid or --all (or a --spec with targets)');

  const uploadUrl = f['upload-url'] ?? (merged.upload as { url?: string } | undefined)?.url;
  const uploadToken = f['upload-token'] ?? input.env.TRACEJOB_UPLOAD_TOKEN ?? (merged.upload as { token?: string } | undefined)?.token;
  if (uploadUrl !== undefined) {
    if (!uploadToken) throw new UsageError('--upload-url needs --upload-token (or env TRACEJOB_UPLOAD_TOKEN)');
    const progressUrl = (merged.upload as { progressUrl?: string } | undefined)?.progressUrl;
    merged.upload = { url: uploadUrl, token: uploadToken, ...(progressUrl !== undefined ? { progressUrl } : {}) };
  } else if (f['upload-token'] !== undefined) {
    throw new UsageError('--upload-token given without --upload-url');
  }

  let spec: NodeJobSpec;
  try {
    spec = parseNodeJobSpec(merged);
  } catch (err) {
    if (err instanceof InvalidSpecError) throw new UsageError(`invalid node job: ${err.message}`);
    throw err;
  }

  const options: RunnerOptions = {
    outDir: f.out ?? `tracejob-${spec.traceId}`,
    rescanIntervalMs:
      f['rescan-interval'] === undefined
        ? 1000
        : f['rescan-interval'] === '0'
          ? 0
          : Math.round(durationFlag('--rescan-interval', f['rescan-interval']) * 1000),
    ringBufferBytesPerCpu: positiveIntFlag(
      f['ring-buffer-per-cpu'] !== undefined ? '--ring-buffer-per-cpu' : 'TRACEJOB_RING_BUFFER_PER_CPU',
      f['ring-buffer-per-cpu'] ?? input.env.TRACEJOB_RING_BUFFER_PER_CPU ?? String(DEFAULT_RING_BUFFER_BYTES_PER_CPU),
    ),
    liveDecodeShare: shareFlag(
      f['live-decode-share'] !== undefined ? '--live-decode-share' : 'TRACEJOB_LIVE_DECODE_SHARE',
      f['live-decode-share'] ?? input.env.TRACEJOB_LIVE_DECODE_SHARE ?? String(DEFAULT_LIVE_DECODE_SHARE),
    ),
    uploadAttempts: f['upload-attempts'] === undefined ? 5 : positiveIntFlag('--upload-attempts', f['upload-attempts']),
    uploadBackoffMs:
      f['upload-backoff'] === undefined ? 500 : Math.round(durationFlag('--upload-backoff', f['upload-backoff']) * 1000),
    progressIntervalMs: 1000,
    progress: Boolean(f.progress) || input.stderrIsTTY,
  };
  const cgroupRoot = f['cgroup-root'] ?? input.env.TRACEJOB_CGROUP_ROOT;
  if (cgroupRoot) options.cgroupRoot = cgroupRoot;
  return { kind: 'run', spec, options };
}

/** Seconds in a duration flag (fractions and `ms` allowed), or a usage error naming the flag. */
function durationFlag(flag: string, text: string): number {
  const d = parseDuration(text);
  if ('error' in d) throw new UsageError(`${flag}: ${d.error}`);
  return d.seconds;
}

function shareFlag(flag: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !(n >= 0 && n <= 1)) throw new UsageError(`${flag} must be a number from 0 to 1, got ${JSON.stringify(text)}`);
  return n;
}

function positiveIntFlag(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) <= 0) throw new UsageError(`${flag} must be a positive integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** `k=v` pairs; v is JSON when it parses as JSON (numbers, booleans, arrays), else the raw string. */
export function parseParams(pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--param must be key=value, got ${JSON.stringify(pair)}`);
    const key = pair.slice(0, eq);
    const raw = pair.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      /* a plain string */
    }
    out[key] = value;
  }
  return out;
}
