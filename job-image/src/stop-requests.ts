/** The first reason to stop wins: deadline, caps, signals and cancel all end the trace the same way. */
import type { StopReason } from '../../contracts/index.ts';

export class StopRequests {
  private first: StopReason | undefined;
  private readonly waiters: ((reason: StopReason) => void)[] = [];

  /** Ask the run to stop; later requests are ignored. */
  request(reason: StopReason): void {
    if (this.first) return;
    this.first = reason;
    for (const w of this.waiters.splice(0)) w(reason);
  }

  get reason(): StopReason | undefined {
    return this.first;
  }

  /** Resolves with the first reason. */
  wait(): Promise<StopReason> {
    if (this.first) return Promise.resolve(this.first);
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}
