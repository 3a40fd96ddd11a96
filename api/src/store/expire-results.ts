/**
 * Removes stored results whose trace record has expired (retention) or was deleted, and the
 * leftovers of uploads that never became visible.
 */
import type { TraceStore } from '../../../state/src/trace-store.ts';
import type { ResultStore } from './result-store.ts';

/** `sweep`: also look for leftovers in the traces that remain (a listing per trace: not every run). */
export async function expireResults(traces: TraceStore, results: ResultStore, opts: { sweep?: boolean } = {}): Promise<string[]> {
  await traces.pruneIndex();
  const removed: string[] = [];
  for (const id of await results.traceIds()) {
    if (!(await traces.exists(id))) {
      await results.deleteTrace(id);
      removed.push(id);
    } else if (opts.sweep) {
      await results.sweepUnreferenced?.(id);
    }
  }
  return removed;
}
