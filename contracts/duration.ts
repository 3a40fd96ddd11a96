/**
 * Durations as people type them — `30s`, `2m`, `1h`, `1m30s`, a bare number of seconds, and (where
 * fractions are allowed) `1.5s` or `500ms` — for every place that reads one: the CLI, Slack, and
 * the runner's command line. One grammar, so `-d 1m30s` means the same everywhere.
 */

export interface DurationRules {
  /** Only whole seconds: no fractions, no `ms` (the API's `durationSeconds` is an integer). */
  wholeSeconds?: boolean;
  /** A bare number is refused: the unit must be written (chat, where `30` could be anything). */
  unitRequired?: boolean;
}

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
const WHOLE = { part: /(\d+)(s|m|h)/g, all: /^(\d+(s|m|h))+$/, bare: /^\d+$/, example: '30s, 2m, 1h or 1m30s' };
const FRACTIONAL = {
  part: /(\d+(?:\.\d+)?)(ms|s|m|h)/g,
  all: /^(\d+(\.\d+)?(ms|s|m|h))+$/,
  bare: /^\d+(\.\d+)?$/,
  example: '10s, 1.5s, 500ms, 2m, 1h or 1m30s',
};

/** Whether `text` is written as a duration with units (`0s` is one; `30` and `ten` are not). */
export function hasDurationUnits(text: string, rules: DurationRules = {}): boolean {
  return (rules.wholeSeconds ? WHOLE : FRACTIONAL).all.test(text.trim());
}

/** Seconds (> 0) in `text`, or an error message saying what is wrong with it. */
export function parseDuration(text: string, rules: DurationRules = {}): { seconds: number } | { error: string } {
  const t = text.trim();
  const g = rules.wholeSeconds ? WHOLE : FRACTIONAL;
  let seconds: number;
  if (g.bare.test(t) && !rules.unitRequired) {
    seconds = Number(t);
  } else if (g.all.test(t)) {
    seconds = 0;
    for (const m of t.matchAll(g.part)) seconds += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  } else if (g.bare.test(t)) {
    return { error: `${JSON.stringify(text)} has no unit; write ${t}s` };
  } else {
    return { error: `${JSON.stringify(text)} is not a duration like ${g.example}` };
  }
  if (!(seconds > 0)) return { error: `a duration must be more than 0 seconds, got ${JSON.stringify(text)}` };
  return { seconds };
}

/** `75` → `1m15s`, `30` → `30s` (whole seconds). */
export function formatSeconds(total: number): string {
  const s = Math.max(0, Math.floor(total));
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return `${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}${rest > 0 ? `${rest}s` : ''}`;
}
