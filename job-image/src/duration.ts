/** Durations as typed on the runner's command line: `10`, `10s`, `1.5s`, `500ms`, `2m`, `1h`, `1m30s`. */

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** Seconds in `text` (> 0), or throws an Error saying what is wrong. */
export function parseDurationSeconds(text: string): number {
  const t = text.trim();
  let seconds: number;
  if (/^\d+(\.\d+)?$/.test(t)) {
    seconds = Number(t);
  } else if (/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(t)) {
    seconds = 0;
    for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) seconds += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  } else {
    throw new Error(`${JSON.stringify(text)} is not a duration like 10, 10s, 500ms, 2m, 1h or 1m30s`);
  }
  if (!(seconds > 0)) throw new Error(`duration must be more than 0, got ${JSON.stringify(text)}`);
  return seconds;
}
