/** Durations as users type them: `30s`, `2m`, `1h`, `1m30s` or a bare number of seconds. */

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** Seconds in `text`, or an error message saying what is wrong with it. */
export function parseDurationSeconds(text: string): { seconds: number } | { error: string } {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    return n > 0 ? { seconds: n } : { error: `duration must be more than 0 seconds, got ${JSON.stringify(text)}` };
  }
  if (!/^(\d+[smh])+$/.test(t)) return { error: `duration ${JSON.stringify(text)} is not like 30s, 2m, 1h or 1m30s` };
  let seconds = 0;
  for (const m of t.matchAll(/(\d+)([smh])/g)) seconds += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  if (seconds <= 0) return { error: `duration must be more than 0 seconds, got ${JSON.stringify(text)}` };
  return { seconds };
}

/** `75` → `1m15s`, `30` → `30s`. */
export function formatSeconds(total: number): string {
  const s = Math.max(0, Math.floor(total));
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return `${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}${rest > 0 ? `${rest}s` : ''}`;
}
