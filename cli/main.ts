/**
 * `tracejob` command line (every subcommand except `serve`, which the launcher handles).
 * `main(argv)` returns the exit code: 0 success, 1 trace failed/partial/cancelled or server error, 2 usage error.
 */
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { ApiClient, ApiRequestError } from './api-client.ts';
import type { GadgetView, NodeView, ScheduleView, TraceView, WatchStatus } from './api-types.ts';
import {
  EVENT_HEADERS,
  eventRow,
  formatEventLine,
  formatGadgets,
  formatProgressLine,
  formatSchedule,
  formatScheduleList,
  formatSummary,
  formatTrace,
  formatTraceList,
  formatTracingNotice,
} from './format-output.ts';
import { parseCommandLine, UsageError, USAGE, type Command } from './parse-command.ts';
import { downloadToFile } from './resumable-download.ts';
import { watchTrace } from './watch-trace.ts';

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  env: Readonly<Record<string, string | undefined>>;
  /** stderr is a terminal: the progress line redraws in place. */
  stderrIsTty: boolean;
}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

function write(stream: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(text, (err) => (err ? reject(err) : resolve()));
  });
}

function progressReporter(io: CliIo): { update(s: WatchStatus): void; done(): void } {
  let lastLine = '';
  let announced = false;
  return {
    update(s) {
      const notice = announced ? undefined : formatTracingNotice(s);
      if (notice) {
        announced = true;
        io.stderr.write(io.stderrIsTty && lastLine ? `\r\x1b[2K${notice}\n` : `${notice}\n`);
        lastLine = '';
      }
      const line = formatProgressLine(s);
      if (line === lastLine) return;
      lastLine = line;
      io.stderr.write(io.stderrIsTty ? `\r\x1b[2K${line}` : `${line}\n`);
    },
    done() {
      if (io.stderrIsTty && lastLine) io.stderr.write('\n');
    },
  };
}

function exitForStatus(status: string): number {
  return status === 'succeeded' ? EXIT.ok : EXIT.failed;
}

async function printEvents(client: ApiClient, io: CliIo, id: string, json: boolean, node?: string): Promise<number> {
  const query = node ? `?node=${encodeURIComponent(node)}` : '';
  const stream = await client.stream(`/v1/traces/${id}/events${query}`, 'application/x-ndjson');
  let pending = '';
  let count = 0;
  const flushLine = async (line: string) => {
    if (line.trim() === '') return;
    count += 1;
    if (json) await write(io.stdout, line + '\n');
    else {
      let ev: Record<string, unknown>;
      try {
        ev = JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new ApiRequestError(0, 'bad_event', `the server sent an event line that is not JSON: ${line.slice(0, 80)}`);
      }
      await write(io.stdout, formatEventLine(eventRow(ev)) + '\n');
    }
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    pending += chunk.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      await flushLine(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  }
  await flushLine(pending);
  return count;
}

/** The POST /v1/traces body of a `run` (or of a `schedule create`'s trace). */
function traceRequestOf(t: Omit<Command & { kind: 'run' }, 'kind' | 'wait' | 'output'>): Record<string, unknown> {
  const request: Record<string, unknown> = { gadget: t.gadget, target: t.target };
  if (t.durationSeconds !== undefined) request.durationSeconds = t.durationSeconds;
  if (Object.keys(t.params).length > 0) request.params = t.params;
  if (t.maxEvents !== undefined) request.limits = { maxEvents: t.maxEvents };
  if (t.callbackUrl !== undefined) request.callbackUrl = t.callbackUrl;
  return request;
}

async function execute(command: Command, client: ApiClient, io: CliIo): Promise<number> {
  switch (command.kind) {
    case 'help':
    case 'version':
      await write(io.stdout, command.kind === 'version' ? 'tracejob 0.1.0\n' : USAGE);
      return EXIT.ok;
    case 'gadgets': {
      const { body } = await client.json<{ items: GadgetView[] }>('GET', '/v1/gadgets');
      await write(io.stdout, command.output === 'json' ? JSON.stringify(body, null, 2) + '\n' : formatGadgets(body?.items ?? []));
      return EXIT.ok;
    }
    case 'ls': {
      const q = new URLSearchParams();
      if (command.status) q.set('status', command.status);
      if (command.limit) q.set('limit', String(command.limit));
      const qs = q.size > 0 ? `?${q}` : '';
      const { body } = await client.json<{ items: TraceView[] }>('GET', `/v1/traces${qs}`);
      await write(io.stdout, command.output === 'json' ? JSON.stringify(body, null, 2) + '\n' : formatTraceList(body?.items ?? []));
      return EXIT.ok;
    }
    case 'get': {
      const { body } = await client.json<TraceView>('GET', `/v1/traces/${command.id}`);
      await write(io.stdout, command.output === 'json' ? JSON.stringify(body, null, 2) + '\n' : formatTrace(body!));
      return EXIT.ok;
    }
    case 'cancel': {
      const { body: trace } = await client.json<TraceView>('GET', `/v1/traces/${command.id}`);
      if (trace && !['queued', 'running'].includes(trace.status)) {
        await write(io.stderr, `tracejob: trace ${command.id} has already ended (${trace.status}); nothing to cancel (tracejob delete removes it)\n`);
        return EXIT.failed;
      }
      const { body } = await client.json<{ status: string }>('DELETE', `/v1/traces/${command.id}`);
      await write(io.stdout, body?.status === 'cancelled' ? `trace ${command.id} cancelled\n` : `trace ${command.id}: cancel requested (status ${body?.status ?? 'unknown'})\n`);
      return EXIT.ok;
    }
    case 'delete': {
      const { body: trace } = await client.json<TraceView>('GET', `/v1/traces/${command.id}`);
      if (trace && ['queued', 'running'].includes(trace.status)) {
        await write(io.stderr, `tracejob: trace ${command.id} is ${trace.status}; cancel it first (tracejob cancel)\n`);
        return EXIT.failed;
      }
      await client.json('DELETE', `/v1/traces/${command.id}`);
      await write(io.stdout, `trace ${command.id} deleted\n`);
      return EXIT.ok;
    }
    case 'bundle': {
      const path = `/v1/traces/${command.id}/bundle`;
      if (command.file === '-') {
        const stream = await client.stream(path, 'application/gzip');
        await pipeline(stream, io.stdout, { end: false });
        return EXIT.ok;
      }
      // A cut download is resumed (Range + If-Range) or started again; the file is whole or absent.
      const got = await downloadToFile(client, path, command.file, {
        accept: 'application/gzip',
        onRetry: ({ have, reason }) => void write(io.stderr, `bundle download broke off after ${have} bytes (${reason}); retrying\n`),
      });
      await write(io.stderr, `bundle of trace ${command.id} written to ${command.file}${got.resumed > 0 ? ` (resumed ${got.resumed}×)` : ''}\n`);
      return EXIT.ok;
    }
    case 'events': {
      const json = command.output === 'json';
      if (!json) await write(io.stdout, formatEventLine(EVENT_HEADERS) + '\n');
      if (!command.follow) {
        await printEvents(client, io, command.id, json);
        return EXIT.ok;
      }
      // Follow: print each node's events once its result is uploaded, until the trace ends.
      const printed = new Set<string>();
      let queue: Promise<unknown> = Promise.resolve();
      const printNew = (nodes: readonly NodeView[]) => {
        for (const n of nodes) {
          if (!n.uploaded || printed.has(n.node)) continue;
          printed.add(n.node);
          queue = queue.then(() => printEvents(client, io, command.id, json, n.node));
        }
      };
      const outcome = await watchTrace(client, command.id, { onStatus: (s) => printNew(s.nodes) });
      await queue;
      const { body: final } = await client.json<TraceView>('GET', `/v1/traces/${command.id}`);
      printNew(final?.nodes ?? []);
      await queue;
      return exitForStatus(outcome.status.status);
    }
    case 'schedule-create': {
      const request: Record<string, unknown> = { trace: traceRequestOf(command.trace) };
      if (command.every !== undefined) request.every = command.every;
      if (command.cron !== undefined) request.cron = command.cron;
      if (command.timeZone !== undefined) request.timeZone = command.timeZone;
      if (command.keepRuns !== undefined) request.keepRuns = command.keepRuns;
      const { body } = await client.json<ScheduleView>('POST', '/v1/schedules', request);
      await write(io.stdout, command.output === 'json' ? JSON.stringify(body, null, 2) + '\n' : `${body!.id}\n`);
      return EXIT.ok;
    }
    case 'schedule-ls': {
      const { body } = await client.json<{ items: ScheduleView[] }>('GET', '/v1/schedules');
      await write(io.stdout, command.output === 'json' ? JSON.stringify(body, null, 2) + '\n' : formatScheduleList(body?.items ?? []));
      return EXIT.ok;
    }
    case 'schedule-get': {
      const { body } = await client.json<ScheduleView>('GET', `/v1/schedules/${command.id}`);
      await write(io.stdout, command.output === 'json' ? JSON.stringify(body, null, 2) + '\n' : formatSchedule(body!));
      return EXIT.ok;
    }
    case 'schedule-rm': {
      await client.json('DELETE', `/v1/schedules/${command.id}`);
      await write(io.stdout, `schedule ${command.id} deleted\n`);
      return EXIT.ok;
    }
    case 'run': {
      const request = traceRequestOf(command);
      const { body } = await client.json<{ id: string; status: string }>('POST', '/v1/traces', request);
      const id = body!.id;
      if (!command.wait) {
        await write(io.stdout, `${id}\n`);
        return EXIT.ok;
      }
      await write(io.stderr, `trace ${id} ${body!.status}\n`);
      const progress = progressReporter(io);
      const outcome = await watchTrace(client, id, { onStatus: (s) => progress.update(s) }).finally(() => progress.done());
      if (command.output === 'json') await write(io.stdout, JSON.stringify({ trace: outcome.status, summary: outcome.summary ?? null }, null, 2) + '\n');
      else await write(io.stdout, formatSummary(outcome.status, outcome.summary));
      return exitForStatus(outcome.status.status);
    }
  }
}

/** Runs one command with explicit streams and environment (tests call this directly). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(argv, io.env);
  } catch (err) {
    if (err instanceof UsageError) {
      await write(io.stderr, `tracejob: ${err.message}\nRun 'tracejob help' for usage.\n`);
      return EXIT.usage;
    }
    throw err;
  }
  const client = new ApiClient(parsed.connection);
  try {
    return await execute(parsed.command, client, io);
  } catch (err) {
    if (err instanceof ApiRequestError) {
      const where = err.status > 0 ? ` (HTTP ${err.status}${err.field ? `, field ${err.field}` : ''})` : '';
      await write(io.stderr, `tracejob: ${err.message}${where}\n`);
      // The server refused the request as malformed: the command line was wrong.
      return err.status === 400 ? EXIT.usage : EXIT.failed;
    }
    await write(io.stderr, `tracejob: ${(err as Error).message}\n`);
    return EXIT.failed;
  }
}

/** Entry point used by bin/tracejob.js for every subcommand but `serve`. */
export function main(argv: readonly string[]): Promise<number> {
  return runCli(argv, { stdout: process.stdout, stderr: process.stderr, env: process.env, stderrIsTty: Boolean(process.stderr.isTTY) });
}
