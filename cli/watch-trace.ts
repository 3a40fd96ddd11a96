/** Follows a trace through GET /v1/traces/:id/watch until it ends, reconnecting if the stream breaks. */
import { isTerminal } from '../contracts/index.ts';
import { ApiRequestError, type ApiClient } from './api-client.ts';
import type { TraceSummary, WatchStatus } from './api-types.ts';

export interface WatchOutcome {
  status: WatchStatus;
  summary?: TraceSummary;
}

export interface WatchOptions {
  onStatus?: (s: WatchStatus) => void;
  /** Reconnect attempts after a broken stream before giving up. */
  retries?: number;
  retryDelayMs?: number;
}

export async function watchTrace(client: ApiClient, id: string, opts: WatchOptions = {}): Promise<WatchOutcome> {
  const retries = opts.retries ?? 5;
  let last: WatchStatus | undefined;
  let summary: TraceSummary | undefined;
  for (let attempt = 0; ; attempt += 1) {
    try {
      for await (const msg of client.events(`/v1/traces/${id}/watch`)) {
        if (msg.event === 'status') {
          last = JSON.parse(msg.data) as WatchStatus;
          opts.onStatus?.(last);
        } else if (msg.event === 'summary') {
          summary = JSON.parse(msg.data) as TraceSummary;
        } else if (msg.event === 'error') {
          const e = JSON.parse(msg.data) as { error?: string; message?: string };
          throw new ApiRequestError(404, e.error ?? 'watch_failed', e.message ?? 'the server stopped watching the trace');
        }
      }
      if (last && isTerminal(last.status)) return summary ? { status: last, summary } : { status: last };
    } catch (err) {
      if (err instanceof ApiRequestError && err.status !== 0 && err.status < 500) throw err;
      if (attempt >= retries) throw err;
    }
    if (attempt >= retries) throw new ApiRequestError(0, 'stream_ended', `the progress stream of trace ${id} ended before the trace did`);
    await new Promise((r) => setTimeout(r, opts.retryDelayMs ?? 1000));
  }
}
