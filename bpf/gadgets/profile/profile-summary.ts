/**
 * From profile events (one per thread and stack, each with its folded stack and sample count) to
 * what users read: merged folded stacks (`comm;frame;…;frame count`, root first, the format
 * flame-graph tools read) and the summary (top functions by self and total samples, overall and
 * per container). Pure; used by the runner (node summary) and the API (merged profile, bundle).
 */
import type { ContainerProfile, FunctionSamples, ProfileSummary } from '../../../contracts/index.ts';

/** What the tally reads of an event (the runner's enriched events have all of it). */
export interface ProfileSample {
  folded?: unknown;
  samples?: unknown;
  cgroupId?: unknown;
  namespace?: unknown;
  pod?: unknown;
  container?: unknown;
}

export const PROFILE_TOP_N = 20;

class FrameCounts {
  samples = 0;
  readonly self = new Map<string, number>();
  readonly total = new Map<string, number>();

  add(frames: readonly string[], n: number): void {
    this.samples += n;
    // frames[0] is the command, not a function
    if (frames.length > 1) {
      const leaf = frames[frames.length - 1]!;
      this.self.set(leaf, (this.self.get(leaf) ?? 0) + n);
    }
    for (const f of new Set(frames.slice(1))) this.total.set(f, (this.total.get(f) ?? 0) + n);
  }
}

function top(counts: ReadonlyMap<string, number>, n: number): FunctionSamples[] {
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, n)
    .map(([frame, samples]) => ({ frame, samples }));
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A valid sample count and folded stack, or undefined for an event that is not a profile event. */
function sampleOf(e: ProfileSample): { folded: string; samples: number } | undefined {
  if (typeof e.folded !== 'string' || e.folded === '') return undefined;
  if (typeof e.samples !== 'number' || !Number.isSafeInteger(e.samples) || e.samples <= 0) return undefined;
  return { folded: e.folded, samples: e.samples };
}

export class ProfileTally {
  private readonly all = new FrameCounts();
  private readonly byContainer = new Map<string, { info: Omit<ContainerProfile, 'samples' | 'topSelf' | 'topTotal'>; counts: FrameCounts }>();
  private stacks = 0;

  add(event: ProfileSample): void {
    const s = sampleOf(event);
    if (!s) return;
    const frames = s.folded.split(';');
    this.stacks += 1;
    this.all.add(frames, s.samples);
    const cgroupId = typeof event.cgroupId === 'number' ? event.cgroupId : undefined;
    const info = { cgroupId, namespace: str(event.namespace), pod: str(event.pod), container: str(event.container) };
    const key = JSON.stringify([info.namespace, info.pod, info.container, info.namespace || info.pod || info.container ? undefined : cgroupId]);
    let entry = this.byContainer.get(key);
    if (!entry) {
      const clean: Omit<ContainerProfile, 'samples' | 'topSelf' | 'topTotal'> = {};
      if (info.namespace === undefined && info.pod === undefined && info.container === undefined && cgroupId !== undefined) clean.cgroupId = cgroupId;
      if (info.namespace !== undefined) clean.namespace = info.namespace;
      if (info.pod !== undefined) clean.pod = info.pod;
      if (info.container !== undefined) clean.container = info.container;
      entry = { info: clean, counts: new FrameCounts() };
      this.byContainer.set(key, entry);
    }
    entry.counts.add(frames, s.samples);
  }

  result(extra: { frequencyHz?: number } = {}, topN = PROFILE_TOP_N): ProfileSummary {
    const summary: ProfileSummary = {
      samples: this.all.samples,
      stacks: this.stacks,
      topSelf: top(this.all.self, topN),
      topTotal: top(this.all.total, topN),
      perContainer: [...this.byContainer.values()]
        .map(({ info, counts }) => ({ ...info, samples: counts.samples, topSelf: top(counts.self, topN), topTotal: top(counts.total, topN) }))
        .sort((a, b) => b.samples - a.samples),
    };
    if (extra.frequencyHz !== undefined) summary.frequencyHz = extra.frequencyHz;
    return summary;
  }
}

/** Identical stacks (from several threads, processes or nodes) merged: folded stack → samples. */
export class FoldedStacks {
  readonly counts = new Map<string, number>();

  add(event: ProfileSample): void {
    const s = sampleOf(event);
    if (s) this.counts.set(s.folded, (this.counts.get(s.folded) ?? 0) + s.samples);
  }

  get samples(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  /** `stack count` lines, sorted by stack (the order flame-graph tools expect), newline-terminated. */
  text(): string {
    const lines = [...this.counts].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([stack, n]) => `${stack} ${n}\n`);
    return lines.join('');
  }
}

/** Makes a frame safe for the folded format (`;` separates frames, a newline ends the line). */
export function foldedFrame(name: string): string {
  return name.replace(/[;\n\r]/g, '_');
}

/**
 * The profile sections of several nodes as one: sample counts added, per-container entries kept
 * (with their node), top functions added up from each node's top list (exact for a function in
 * every node's top N; a trace's exact tops come from its merged folded stacks).
 */
export function mergeProfileSummaries(parts: readonly { node: string; profile: ProfileSummary }[], topN = PROFILE_TOP_N): ProfileSummary & { perContainer: (ContainerProfile & { node?: string })[] } {
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const merged: ProfileSummary & { perContainer: (ContainerProfile & { node?: string })[] } = { samples: 0, stacks: 0, topSelf: [], topTotal: [], perContainer: [] };
  for (const { node, profile } of parts) {
    merged.samples += profile.samples;
    merged.stacks += profile.stacks;
    if (profile.frequencyHz !== undefined) merged.frequencyHz ??= profile.frequencyHz;
    for (const f of profile.topSelf) self.set(f.frame, (self.get(f.frame) ?? 0) + f.samples);
    for (const f of profile.topTotal) total.set(f.frame, (total.get(f.frame) ?? 0) + f.samples);
    for (const c of profile.perContainer) merged.perContainer.push({ ...c, node });
  }
  merged.topSelf = top(self, topN);
  merged.topTotal = top(total, topN);
  merged.perContainer.sort((a, b) => b.samples - a.samples);
  return merged;
}
