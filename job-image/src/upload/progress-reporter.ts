/**
 * Tells the API how the node's trace is going: first the moment the gadget is attached and
 * filtering (`tracingSince`), then the live event and lost-event counts about once a second, with
 * the node's upload token. The answer carries the trace's cancel mark, so a cancel reaches the
 * runner even when no signal does (a signal sent before the process could catch it, a pod's PID 1).
 *
 * Best effort by design: a report that fails or times out is skipped (the next one carries newer
 * counts), and never more than one is in flight, so a slow API cannot pile requests up.
 */
import type { NodeProgress, NodeProgressAnswer } from '../../../contracts/index.ts';

export interface ProgressReporterOptions {
  url: string;
  token: string;
  /** Per-request time limit (default 2 s). */
  timeoutMs?: number;
  /** Called when the API says the trace was cancelled. */
  onCancelRequested(): void;
  /** Called when reports start failing (once per run of failures, for the log). */
  onFailure?(reason: string): void;
}

export class ProgressReporter {
  private inFlight: Promise<void> | undefined;
  private failing = false;

  constructor(private readonly opts: ProgressReporterOptions) {}

  /** Sends `progress` unless a report is still in flight; resolves when it is answered or given up. */
  report(progress: NodeProgress): Promise<void> {
    if (this.inFlight) return this.inFlight;
    this.inFlight = this.send(progress).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Waits for the report in flight, if any (before the final upload, so the two do not race). */
  async settle(): Promise<void> {
    await this.inFlight;
  }

  private async send(progress: NodeProgress): Promise<void> {
    try {
      const res = await fetch(this.opts.url, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.opts.token}` },
        body: JSON.stringify(progress),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 2000),
      });
      if (!res.ok) {
        this.fail(`HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
        return;
      }
      const answer = (await res.json()) as Partial<NodeProgressAnswer>;
      this.failing = false;
      if (answer.cancelRequested === true) this.opts.onCancelRequested();
    } catch (err) {
      this.fail((err as Error).message);
    }
  }

  private fail(reason: string): void {
    if (!this.failing) this.opts.onFailure?.(reason);
    this.failing = true;
  }
}
