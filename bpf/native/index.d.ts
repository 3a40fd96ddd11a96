/** bpf-native: tracejob's thin N-API addon over libbpf. Decoding and policy live in TypeScript. */

/**
 * Error thrown by every call: carries the errno name and the object/map/program involved; the
 * message names them too, e.g. "bpf_program__attach failed for program 'handle_exec' in object
 * '/x/exec.bpf.o': ... (ENOENT)". A failed open/load/attach appends libbpf's last warnings (for a
 * verifier rejection: the verifier log). Misuse has codes too: EBADF after close(), EBUSY for
 * setGlobal/setMapMaxEntries after load(), EINVAL for a bad size or a call before load(),
 * EALREADY for a second load()/attach(), ENOENT for an unknown map or global.
 */
export interface BpfErrorInfo {
  /** errno name, e.g. 'ENOENT', 'EPERM', 'EINVAL'; 'EUNKNOWN' if none. */
  code: string;
  errno: number;
  /** The libbpf/syscall operation that failed, e.g. 'bpf_object__open_file', 'bpf_map_update_elem'. */
  op: string;
  object?: string;
  map?: string;
  program?: string;
}
export type BpfError = Error & BpfErrorInfo;

export interface MapEntries {
  count: number;
  keys: Buffer;
  values: Buffer;
}

export interface MapInfo {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

/** A handle on one BPF object file. open -> setGlobal/setMapMaxEntries -> load -> attach -> maps/ringbuf -> close. */
export class BpfObject {
  private constructor();
  /** Open (not load) a .bpf.o file. Throws BpfError (code ENOENT for a missing file). */
  static open(path: string): BpfObject;
  readonly path: string;
  readonly closed: boolean;
  /** Before load: set a global variable of .rodata/.data/.bss, found by name in the BTF DATASEC. value.length must equal the variable's size. */
  setGlobal(name: string, value: Buffer): void;
  /** Before load: resize a map (e.g. the ring buffer, the cgroup filter). A ring buffer's size must be a power of two ≥ the page size. */
  setMapMaxEntries(map: string, maxEntries: number): void;
  /** Load every program and create every map in the kernel. */
  load(): void;
  /** Attach every program according to its SEC() (tracepoint/raw_tracepoint...). Throws naming the program; on failure none stays attached. */
  attach(): void;
  /** Detach every attached program (the object stays loaded; maps remain readable). */
  detach(): void;
  /**
   * After load: open one CPU-clock sampling perf event per online CPU (all tasks of that CPU) at
   * `frequencyHz` (a fixed period of 1 s / frequencyHz of CPU clock) and attach the SEC("perf_event") program `program` to each; attach() skips such
   * programs. detach()/close() release the events. Returns the number of CPUs attached. Needs
   * CAP_PERFMON (or CAP_SYS_ADMIN): EACCES/EPERM otherwise, op 'perf_event_open'.
   */
  attachPerfEvent(program: string, options: { frequencyHz: number }): number;
  maps(): MapInfo[];
  /** key/value lengths must match the map's (per-CPU maps: the full possibleCpus() × 8-byte-rounded value). flags: BPF_ANY 0, BPF_NOEXIST 1, BPF_EXIST 2. */
  mapUpdate(map: string, key: Buffer, value: Buffer, flags?: number): void;
  /** null when the key is absent. For per-CPU maps: possibleCpus() values, each rounded up to 8 bytes, concatenated. */
  mapLookup(map: string, key: Buffer): Buffer | null;
  /** false when the key was absent. */
  mapDelete(map: string, key: Buffer): boolean;
  /**
   * Every entry of a map, read in batches where the kernel has them for the map type (hash maps),
   * else key by key: `count` keys of keySize bytes back to back in `keys`, their values likewise in
   * `values` (per-CPU maps: the mapLookup layout). Entries changed while it reads may be missed.
   * A ring buffer is refused (EINVAL): read it with openRingBuffer.
   */
  mapEntries(map: string): MapEntries;
  /**
   * Read a BPF_MAP_TYPE_RINGBUF map in batches on libuv readiness: `onBatch` is called once per
   * drain with many records: `batch` holds `count` records, each as [u32 LE length][bytes][pad to 8]
   * (split it with `forEachRecord`/`splitBatch` from ./ring-batch.ts). A batch is at most ~4 MiB; a
   * fuller ring is drained over several event-loop turns. `batch` is a fresh copy the callback may
   * keep. Like a socket, an open reader keeps the event loop alive until it (or the object) is
   * closed. An exception thrown by onBatch on the readiness path becomes an uncaughtException.
   */
  openRingBuffer(map: string, onBatch: (batch: Buffer, count: number) => void): RingBufferReader;
  /**
   * Drain a BPF_MAP_TYPE_RINGBUF map on a thread of its own (off the event loop) and append its
   * records to `fd`, framed as openRingBuffer frames them, in writes of up to ~1 MiB at least every
   * `flushIntervalMs` (default 10). The thread wakes on a BPF_RB_FORCE_WAKEUP or at that interval,
   * so producers may submit with BPF_RB_NO_WAKEUP. Read the file behind it (up to stats().bytes,
   * always a record boundary) with `forEachWholeRecord`. Records beyond `maxRecords` (0: no cap)
   * are consumed and counted as overCap, not written. The caller keeps owning `fd`.
   */
  spoolRingBuffer(map: string, fd: number, options?: { flushIntervalMs?: number; maxRecords?: number }): RingBufferSpool;
  /** Release everything (links, programs, maps, fds). Safe to call twice; also done by the GC finalizer. */
  close(): void;
}

export class RingBufferReader {
  private constructor();
  /** Drain synchronously now (e.g. before stopping); calls onBatch; returns records consumed. */
  drain(): number;
  /** Stop polling and free the reader. Safe to call twice; BpfObject.close() closes its readers. */
  close(): void;
}

export interface RingBufferSpoolStats {
  /** Whole records written to the file. */
  records: number;
  /** Bytes written to the file; always at a record boundary. */
  bytes: number;
  /** Records consumed beyond maxRecords (not written). */
  overCap: number;
  /** Records consumed but not written because a write failed (see writeError). */
  unwritten: number;
  /** Times the thread was woken by the kernel (forced wake-ups) and found records. */
  wakeups: number;
  writeError?: string;
  consumeError?: string;
}

export class RingBufferSpool {
  private constructor();
  stats(): RingBufferSpoolStats;
  /** Consume what the ring holds now and write it out, from the calling thread; then the stats. */
  flush(): RingBufferSpoolStats;
  /** Stop the thread after a last drain and write; the final stats. Safe to call twice; BpfObject.close() closes its spools. */
  close(): RingBufferSpoolStats;
}

export function possibleCpus(): number;
/** clock_gettime(CLOCK_BOOTTIME) and (CLOCK_REALTIME), sampled back to back, in ns. */
export function clocks(): { boottime: bigint; realtime: bigint };
/** Number of open file descriptors of this process (for leak tests). */
export function openFdCount(): number;
