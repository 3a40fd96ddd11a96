/**
 * Writes events to events.ndjson (a new file) as they arrive: lines are buffered in memory and written with one
 * write per flush, at least every `flushIntervalMs` (so a SIGKILLed runner leaves nearly everything)
 * and on close (so SIGTERM leaves everything). Enforces the byte cap: a line that would cross it is
 * refused and the writer marks itself full.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';

export interface EventWriterOptions {
  /** Cap on the file size in bytes; undefined = none. */
  maxBytes?: number;
  /** Default 200 ms. */
  flushIntervalMs?: number;
  /** Flush early once this many bytes are buffered. Default 1 MiB. */
  highWaterBytes?: number;
  /** Called once when a write fails (disk full, I/O error); later events are refused. */
  onWriteError?(err: Error): void;
}

export class EventWriter {
  private readonly fd: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Bytes accepted (written or buffered). */
  bytes = 0;
  /** Lines accepted. */
  lines = 0;
  /** True once a line was refused because of maxBytes. */
  full = false;
  /** The first write error; from then on append() refuses every event. */
  writeError: Error | undefined;
  /** Lines accepted but lost because a write failed. */
  unwrittenLines = 0;

  constructor(
    readonly path: string,
    private readonly options: EventWriterOptions = {},
  ) {
    this.fd = openSync(path, 'w');
    this.timer = setInterval(() => this.flush(), options.flushIntervalMs ?? 200);
    this.timer.unref();
  }

  /** Append one event as a JSON line; false (and `full` set) when it would cross the byte cap. */
  append(event: unknown): boolean {
    if (this.closed) throw new Error(`event writer for ${this.path} is closed`);
    if (this.writeError) return false;
    const line = `${JSON.stringify(event)}\n`;
    const size = Buffer.byteLength(line);
    if (this.options.maxBytes !== undefined && this.bytes + size > this.options.maxBytes) {
      this.full = true;
      return false;
    }
    this.pending.push(line);
    this.pendingBytes += size;
    this.bytes += size;
    this.lines += 1;
    if (this.pendingBytes >= (this.options.highWaterBytes ?? 1 << 20)) this.flush();
    return true;
  }

  /** Write everything buffered now (synchronously: nothing is in flight when this returns). Never throws. */
  flush(): void {
    if (this.pending.length === 0 || this.writeError) return;
    const lines = this.pending.length;
    const data = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
    try {
      let off = 0;
      while (off < data.length) off += writeSync(this.fd, data, off, data.length - off);
    } catch (err) {
      this.writeError = err as Error;
      this.unwrittenLines += lines;
      this.options.onWriteError?.(this.writeError);
    }
  }

  /** Flush, fsync and close. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.flush();
    try {
      if (!this.writeError) fsyncSync(this.fd);
    } catch (err) {
      this.writeError = err as Error;
      this.options.onWriteError?.(this.writeError);
    } finally {
      closeSync(this.fd);
    }
  }
}
