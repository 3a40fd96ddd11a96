/**
 * When do events start and stop being lost? Fed the running total of lost events about once a
 * second, it reports the first growth (an episode starts) and the first check without growth (the
 * episode ends, with what it cost), so the runner's log shows each episode once instead of a line
 * per check, or nothing at all.
 */
export type LossChange =
  | { kind: 'started'; lostEvents: number; lostInEpisode: number }
  | { kind: 'stopped'; lostEvents: number; lostInEpisode: number; episodeMs: number };

export class LossWatch {
  private lastTotal = 0;
  private episodeStart: { atMs: number; totalBefore: number } | undefined;

  /** Record the total now; a change when an episode starts or ends. */
  observe(totalLost: number, nowMs: number): LossChange | undefined {
    const grew = totalLost > this.lastTotal;
    const before = this.lastTotal;
    this.lastTotal = Math.max(this.lastTotal, totalLost);
    if (grew && !this.episodeStart) {
      this.episodeStart = { atMs: nowMs, totalBefore: before };
      return { kind: 'started', lostEvents: totalLost, lostInEpisode: totalLost - before };
    }
    if (!grew && this.episodeStart) return this.close(nowMs);
    return undefined;
  }

  /** At the end of the trace: closes an episode still open (and one that the final count opens). */
  end(totalLost: number, nowMs: number): LossChange[] {
    const changes: LossChange[] = [];
    const last = this.observe(totalLost, nowMs);
    if (last) changes.push(last);
    if (this.episodeStart) changes.push(this.close(nowMs));
    return changes;
  }

  private close(nowMs: number): LossChange {
    const start = this.episodeStart!;
    this.episodeStart = undefined;
    return { kind: 'stopped', lostEvents: this.lastTotal, lostInEpisode: this.lastTotal - start.totalBefore, episodeMs: nowMs - start.atMs };
  }
}
