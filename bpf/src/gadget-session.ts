/**
 * GadgetSession: one gadget loaded in the kernel, filtered by cgroup, its ring buffer read in
 * batches and decoded. This is the API the runner (job-image/) uses; keep it stable.
 *
 *   const session = await GadgetSession.start({
 *     gadget: 'exec',                 // a name of contracts/gadgets.ts
 *     params: { failedOnly: false },  // validated with the gadget's schema, defaults applied
 *     cgroupIds: [1234, 5678],        // cgroup v2 ids to trace, or 'all' (filter off)
 *     ringBufferBytes: 1 << 20,       // optional; power of two, multiple of the page size
 *     ancestorLevels: [3],            // optional: also trace descendants of filtered cgroups at these levels
 *     onEvents(events) { ... },       // decoded events, one call per batch of records
 *     onError(err) { ... },           // optional: a record that failed to decode, or onEvents threw
 *   });
 *   session.addCgroup(id); session.removeCgroup(id);   // while running (no-ops with 'all')
 *   session.lostEvents();   // records the kernel could not deliver (ring buffer full), all CPUs
 *   session.drain();        // read what is in the ring buffer now; returns records read
 *   session.stop();         // detach, final drain, close; idempotent
 *   await session.finish(); // the same, decoding the backlog without blocking the event loop
 *
 * The hot path: a native thread (RingBufferSpool) drains the ring buffer — woken by the kernel only
 * when the ring is filling up, else every `flushIntervalMs` — and appends the raw records to a spool
 * file (unlinked at once: nothing is left behind). JS reads the file behind it, decodes with the
 * gadget's decoder and calls onEvents, one chunk per event-loop turn. So a consumer slower than the
 * kernel costs disk and delay, never events, and the ring only has to absorb the thread's
 * scheduling delays.
 *
 * Steps of start(): validate params → open the gadget's object → set its `config` global → size
 * the ring buffer (and the filter map if needed) → load → fill `cgroup_filter` → spool → attach.
 * An aggregating gadget (definition.aggregate, e.g. profile; blockio and tcpdrop unless their params
 * ask for the stream) has no ring buffer to read: after
 * attach() its own attach runs, its collector is polled every `pollIntervalMs` while tracing, and
 * stop() hands the collector's events to onEvents after detaching; lostEvents() is its count.
 * Any failure closes what was opened and throws (GadgetParamsError for params, naming the field;
 * RangeError for ringBufferBytes/cgroup ids; GadgetUnsupportedError when the kernel lacks a feature
 * the gadget needs — a tracepoint, a CO-RE type/field, a helper —; the addon's BpfError otherwise).
 *
 * Files: the object is <root>/bpf/gadgets/<name>/<name>.bpf.o and the addon <root>/bpf/native,
 * where <root> is found by walking up from this module (works from source and from dist/);
 * `root` overrides it.
 */
import { pathToFileURL } from 'node:url';
import { closeSync, existsSync, openSync, readSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type * as Native from '../native/index.js';
import type { BpfObject, RingBufferSpool, RingBufferSpoolStats } from '../native/index.js';
import { forEachWholeRecord } from '../native/ring-batch.ts';
import { getGadget, parseParams } from '../gadgets/index.ts';
import type { AggregateCollector, DecodeContext, GadgetDefinition, GadgetEvent } from './gadget-definition.ts';
import { asUnsupported } from './gadget-unsupported.ts';
import { findRepoRoot, gadgetObjectPath, nativeAddonPath } from './repo-paths.ts';

type NativeAddon = typeof Native;

export interface GadgetSessionOptions {
  gadget: string;
  params?: Record<string, unknown>;
  /** cgroup v2 ids (directory inode numbers) to trace, or 'all' to trace every cgroup. */
  cgroupIds: number[] | 'all';
  /** Ring buffer size in bytes (power of two, multiple of the page size). Default: the object's (256 KiB). */
  ringBufferBytes?: number;
  /**
   * cgroup v2 levels (root = 0) at which a task's ancestor is also looked up in the filter: with the
   * pod's cgroup id in `cgroupIds` and the pod's level here, every container the pod starts later is
   * traced from its first instruction. Default: none (exact cgroup match only).
   */
  ancestorLevels?: readonly number[];
  /** Records reach JS at most this late (ms) when nothing forces an earlier wake-up. Default 20. */
  flushIntervalMs?: number;
  /**
   * Share of one CPU (0..1) the session may spend decoding while it traces; what does not fit
   * waits in the spool and is decoded by drain()/stop()/finish(). Under a storm the traced
   * workload keeps the CPU, and nothing is lost. Default 1 (decode as fast as events come).
   */
  liveDecodeShare?: number;
  /** Keep at most this many records; later ones are counted (stats().overCap), not decoded. Default: no cap. */
  maxRecords?: number;
  /** Where the spool file of records waiting to be decoded goes (unlinked at once). Default: os.tmpdir(). */
  spoolDir?: string;
  onEvents(events: GadgetEvent[]): void;
  /** Called for a record that does not decode, or when onEvents throws. Default: rethrow. */
  onError?(err: Error): void;
  /** Directory holding package.json and bpf/ (default: found from this module's location). */
  root?: string;
  /** Aggregating gadgets: how often the collector is polled while tracing (default 250 ms). */
  pollIntervalMs?: number;
}

const FILTER_MAP = 'cgroup_filter';
const ANCESTOR_LEVELS_GLOBAL = 'gadget_filter_ancestor_levels';
/** GADGET_ANCESTOR_LEVELS_MAX of gadget_common.h. */
const MAX_ANCESTOR_LEVEL = 31;
const DEFAULT_FILTER_ENTRIES = 1024;
const PAGE_SIZE = 4096;
const DEFAULT_FLUSH_INTERVAL_MS = 20;
/** Bytes of spool read, decoded and handed to onEvents per event-loop turn. */
const CHUNK_BYTES = 256 << 10;
let spoolCounter = 0;

let addonPromise: Promise<NativeAddon> | undefined;
async function loadAddon(root: string): Promise<NativeAddon> {
  addonPromise ??= import(pathToFileURL(nativeAddonPath(root)).href) as Promise<NativeAddon>;
  return addonPromise;
}

/** Loads the addon ahead of the first session (a warm runner does it while it waits for its job). */
export async function preloadGadgetAddon(root = findRepoRoot()): Promise<void> {
  await loadAddon(root);
}

function cgroupKey(id: number): Buffer {
  if (!Number.isSafeInteger(id) || id <= 0) throw new RangeError(`cgroupIds: ${id} is not a cgroup id (a positive integer)`);
  const key = Buffer.alloc(8);
  key.writeBigUInt64LE(BigInt(id));
  return key;
}

/** The `gadget_filter_ancestor_levels` bit mask (little-endian u32) of a list of levels. */
export function ancestorLevelMask(levels: readonly number[]): Buffer {
  let mask = 0;
  for (const level of levels) {
    if (!Number.isInteger(level) || level < 0 || level > MAX_ANCESTOR_LEVEL) {
      throw new RangeError(`ancestorLevels: ${level} is not a cgroup level (0…${MAX_ANCESTOR_LEVEL})`);
    }
    mask |= 1 << level;
  }
  const buf = Buffer.alloc(4);
  buf.writeUInt32LE(mask >>> 0);
  return buf;
}

function checkRingBufferBytes(bytes: number): void {
  if (!Number.isInteger(bytes) || bytes < PAGE_SIZE || (bytes & (bytes - 1)) !== 0) {
    throw new RangeError(`ringBufferBytes: ${bytes} must be a power of two of at least ${PAGE_SIZE}`);
  }
}

export class GadgetSession {
  private spool: RingBufferSpool | undefined;
  private collector: AggregateCollector | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private spoolFd: number | undefined;
  /** Bytes of the spool file decoded so far. */
  private readOffset = 0;
  private spoolStats: RingBufferSpoolStats = { records: 0, bytes: 0, overCap: 0, unwritten: 0, wakeups: 0 };
  private pumpTimer: NodeJS.Timeout | undefined;
  private pumping = false;
  /** Live decoding's CPU budget: ms spent decoding since `budgetSince` (performance.now()). */
  private liveDecodeMs = 0;
  private readonly budgetSince = performance.now();
  private reportedSpoolError = false;
  private stopped = false;
  private detached = false;
  private readonly filtered: Set<number>;
  private decodedCount = 0;
  private decodeErrorCount = 0;
  private finalLost = 0;

  private constructor(
    readonly gadget: GadgetDefinition<GadgetEvent>,
    readonly params: Readonly<Record<string, unknown>>,
    private readonly object: BpfObject,
    private readonly addon: NativeAddon,
    private readonly traceAll: boolean,
    cgroupIds: readonly number[],
    private readonly options: GadgetSessionOptions,
    private readonly decode: (record: Buffer, ctx: DecodeContext) => GadgetEvent,
  ) {
    this.filtered = new Set(cgroupIds);
  }

  static async start(options: GadgetSessionOptions): Promise<GadgetSession> {
    const gadget = getGadget(options.gadget);
    if (!gadget) throw new RangeError(`gadget: unknown gadget '${options.gadget}'`);
    const params = parseParams(gadget.name, options.params ?? {});
    const traceAll = options.cgroupIds === 'all';
    const ids = options.cgroupIds === 'all' ? [] : [...new Set(options.cgroupIds)];
    const keys = ids.map(cgroupKey);
    if (options.ringBufferBytes !== undefined) checkRingBufferBytes(options.ringBufferBytes);
    const flushIntervalMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
    if (!Number.isInteger(flushIntervalMs) || flushIntervalMs < 1 || flushIntervalMs > 10_000) {
      throw new RangeError(`flushIntervalMs: ${flushIntervalMs} must be an integer of 1 to 10000`);
    }
    const share = options.liveDecodeShare ?? 1;
    if (!(share >= 0 && share <= 1)) throw new RangeError(`liveDecodeShare: ${share} must be a number from 0 to 1`);
    if (options.maxRecords !== undefined && !(Number.isSafeInteger(options.maxRecords) && options.maxRecords > 0)) {
      throw new RangeError(`maxRecords: ${options.maxRecords} must be a positive integer`);
    }
    const ancestorMask = options.ancestorLevels?.length ? ancestorLevelMask(options.ancestorLevels) : undefined;

    const root = options.root ?? findRepoRoot();
    const objectPath = gadgetObjectPath(gadget.objectFile, root);
    if (!existsSync(objectPath)) {
      throw new Error(`gadget ${gadget.name}: object ${objectPath} is missing; build it with: make -C bpf`);
    }
    // the layouts of the object about to be loaded (not of a copy that may be older)
    const layout = gadget.layoutFor?.(objectPath) ?? gadget;
    const config = layout.encodeConfig(params, !traceAll);
    const addon = await loadAddon(root);
    const object = addon.BpfObject.open(objectPath);
    let spoolFd: number | undefined;
    try {
      object.setGlobal('config', config);
      if (ancestorMask && !traceAll) object.setGlobal(ANCESTOR_LEVELS_GLOBAL, ancestorMask);
      if (options.ringBufferBytes !== undefined) object.setMapMaxEntries('events', options.ringBufferBytes);
      if (ids.length > DEFAULT_FILTER_ENTRIES) object.setMapMaxEntries(FILTER_MAP, ids.length * 2);
      object.load();
      const one = Buffer.from([1]);
      for (const key of keys) object.mapUpdate(FILTER_MAP, key, one);
      const session = new GadgetSession(gadget, params, object, addon, traceAll, ids, options, (record, ctx) => layout.decode(record, ctx));
      if (gadget.aggregate && (gadget.aggregate.enabled?.(params) ?? true)) {
        object.attach();
        gadget.aggregate.attach(object, params);
        const collector = gadget.aggregate.createCollector(object, params, objectPath);
        session.collector = collector;
        session.pollTimer = setInterval(() => collector.poll(), options.pollIntervalMs ?? 250);
        session.pollTimer.unref();
        return session;
      }
      spoolCounter += 1;
      const spoolPath = join(options.spoolDir ?? tmpdir(), `.tracejob-spool-${process.pid}-${spoolCounter}`);
      spoolFd = openSync(spoolPath, 'w+', 0o600);
      unlinkSync(spoolPath);
      session.spoolFd = spoolFd;
      session.spool = object.spoolRingBuffer('events', spoolFd, { flushIntervalMs, maxRecords: options.maxRecords ?? 0 });
      object.attach();
      session.pumpTimer = setInterval(() => void session.pump(), flushIntervalMs);
      return session;
    } catch (err) {
      object.close();
      if (spoolFd !== undefined) closeSync(spoolFd);
      throw asUnsupported(gadget.name, err);
    }
  }

  /** Trace one more cgroup from now on. No-op when tracing all cgroups. */
  addCgroup(id: number): void {
    this.assertRunning('addCgroup');
    const key = cgroupKey(id);
    if (this.traceAll) return;
    this.object.mapUpdate(FILTER_MAP, key, Buffer.from([1]));
    this.filtered.add(id);
  }

  /** Stop tracing a cgroup; returns false when it was not traced. No-op (false) when tracing all cgroups. */
  removeCgroup(id: number): boolean {
    this.assertRunning('removeCgroup');
    const key = cgroupKey(id);
    if (this.traceAll) return false;
    this.filtered.delete(id);
    return this.object.mapDelete(FILTER_MAP, key);
  }

  /** The cgroup ids in the filter ('all' when the filter is off). */
  cgroupIds(): number[] | 'all' {
    return this.traceAll ? 'all' : [...this.filtered];
  }

  /**
   * Records lost on the way: the ones the kernel failed to put in the ring buffer (sum over CPUs of
   * the `drops` counter) plus any the spool could not write (disk full).
   */
  lostEvents(): number {
    if (this.object.closed) return this.finalLost;
    if (this.collector) return this.collector.lost();
    const value = this.object.mapLookup('drops', Buffer.alloc(4));
    let total = 0n;
    if (value) for (let off = 0; off + 8 <= value.length; off += 8) total += value.readBigUInt64LE(off);
    return Number(total) + this.currentSpoolStats().unwritten;
  }

  /**
   * Events decoded so far, records that failed to decode, records lost, records beyond maxRecords
   * (not decoded), and records read from the ring but not decoded yet (the backlog).
   */
  stats(): { events: number; decodeErrors: number; lostEvents: number; overCap: number; pending: number } {
    const spool = this.currentSpoolStats();
    return {
      events: this.decodedCount,
      decodeErrors: this.decodeErrorCount,
      lostEvents: this.lostEvents(),
      overCap: spool.overCap,
      pending: Math.max(0, spool.records - this.decodedCount - this.decodeErrorCount),
    };
  }

  /** Read what the ring buffer holds now and decode it (onEvents is called synchronously); returns records read. */
  drain(): number {
    if (this.stopped) return 0;
    if (this.collector) {
      this.collector.poll();
      return 0;
    }
    if (!this.spool) return 0;
    const before = this.decodedCount + this.decodeErrorCount;
    if (!this.detached) this.spoolStats = this.spool.flush();
    this.decodeAll();
    return this.decodedCount + this.decodeErrorCount - before;
  }

  get running(): boolean {
    return !this.stopped;
  }

  /** Detach the programs, read and decode what is left, release everything. Safe to call more than once. */
  stop(): void {
    if (this.stopped) return;
    try {
      this.detachAndCloseSpool();
      this.decodeAll();
    } finally {
      this.release();
    }
  }

  /**
   * stop(), with the backlog decoded one chunk per event-loop turn (timers, signals and I/O keep
   * running meanwhile). Resolves once everything is decoded and released.
   */
  async finish(): Promise<void> {
    if (this.stopped) return;
    try {
      this.detachAndCloseSpool();
      while (!this.stopped && this.decodeChunk()) await nextTurn();
    } finally {
      if (!this.stopped) {
        this.decodeAll();
        this.release();
      }
    }
  }

  private detachAndCloseSpool(): void {
    if (this.detached) return;
    this.detached = true;
    if (this.pumpTimer) clearInterval(this.pumpTimer);
    this.pumpTimer = undefined;
    clearInterval(this.pollTimer);
    this.object.detach();
    if (this.spool) this.spoolStats = this.spool.close();
    this.finalLost = this.lostEvents();
    if (this.collector) this.deliver(this.collector.collect(this.decodeContext()));
  }

  private decodeContext(): DecodeContext {
    const clocks = this.addon.clocks();
    return { bootToWallOffsetNs: clocks.realtime - clocks.boottime };
  }

  /** An aggregating gadget's events, in batches of at most 4096 like ring-buffer batches. */
  private deliver(events: GadgetEvent[]): void {
    for (let i = 0; i < events.length; i += 4096) {
      const batch = events.slice(i, i + 4096);
      this.decodedCount += batch.length;
      try {
        this.options.onEvents(batch);
      } catch (err) {
        this.report(err as Error);
      }
    }
  }

  private release(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.pumpTimer) clearInterval(this.pumpTimer);
    this.pumpTimer = undefined;
    clearInterval(this.pollTimer);
    try {
      if (!this.detached) {
        this.spool?.close();
        this.finalLost = this.lostEvents();
      }
    } finally {
      this.spool = undefined;
      this.object.close();
      if (this.spoolFd !== undefined) closeSync(this.spoolFd);
      this.spoolFd = undefined;
    }
  }

  private currentSpoolStats(): RingBufferSpoolStats {
    if (this.spool && !this.detached) this.spoolStats = this.spool.stats();
    return this.spoolStats;
  }

  private assertRunning(op: string): void {
    if (this.stopped) throw new Error(`${op}: the ${this.gadget.name} session is stopped`);
  }

  /** Timer: decode the backlog, a chunk per turn, until caught up or out of CPU budget. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    const share = this.options.liveDecodeShare ?? 1;
    try {
      while (!this.stopped && !this.detached) {
        if (share < 1 && this.liveDecodeMs > share * (performance.now() - this.budgetSince)) break;
        const t0 = performance.now();
        const decoded = this.decodeChunk();
        this.liveDecodeMs += performance.now() - t0;
        if (!decoded) break;
        await nextTurn();
      }
    } finally {
      this.pumping = false;
    }
  }

  private decodeAll(): void {
    while (this.decodeChunk());
  }

  /** Decode up to CHUNK_BYTES of the spool; false when there was nothing to decode. */
  private decodeChunk(): boolean {
    if (this.spoolFd === undefined) return false;
    const stats = this.currentSpoolStats();
    if (stats.writeError && !this.reportedSpoolError) {
      this.reportedSpoolError = true;
      this.report(new Error(`${this.gadget.name}: writing the spool failed (${stats.writeError}); later records are counted as lost`));
    }
    const available = stats.bytes - this.readOffset;
    if (available <= 0) return false;
    const chunk = Buffer.allocUnsafe(Math.min(available, CHUNK_BYTES));
    let got = 0;
    while (got < chunk.length) {
      const n = readSync(this.spoolFd, chunk, got, chunk.length - got, this.readOffset + got);
      if (n === 0) break;
      got += n;
    }
    const ctx = this.decodeContext();
    const events: GadgetEvent[] = [];
    const used = forEachWholeRecord(chunk.subarray(0, got), (record) => {
      try {
        events.push(this.decode(record, ctx));
      } catch (err) {
        this.decodeErrorCount += 1;
        this.report(err as Error);
      }
    });
    if (used === 0) {
      throw new Error(`${this.gadget.name}: spool record at offset ${this.readOffset} does not fit in ${got} bytes`);
    }
    this.readOffset += used;
    if (events.length > 0) {
      this.decodedCount += events.length;
      try {
        this.options.onEvents(events);
      } catch (err) {
        this.report(err as Error);
      }
    }
    return true;
  }

  private report(err: Error): void {
    if (this.options.onError) this.options.onError(err);
    else throw err;
  }
}
