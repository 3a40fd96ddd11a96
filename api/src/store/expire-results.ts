/** Removes stored results whose trace record has expired (retention) or was deleted. */
import type { TraceStore } from '../../../state/src/trace-store.ts';
import type { ResultStore } from './result-store.ts';

export async function expireResults(traces: TraceStore, results: ResultStore): Promise<string[]> {
  await traces.pruneIndex();
  const removed: string[] = [];
  for (const id of await results.traceIds()) {
    if (!(await traces.exists(id))) {
      await results.deleteTrace(id);
      removed.push(id);
    }
  }
  return removed;
}
