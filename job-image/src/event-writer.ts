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

  /** Write everything buffered now (synchronously: nothing is in flight when this returns). */
  flush(): void {
    if (this.pending.length === 0) return;
    const data = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
    let off = 0;
    while (off < data.length) off += writeSync(this.fd, data, off, data.length - off);
  }

  /** Flush, fsync and close. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.flush();
    try {
      fsyncSync(this.fd);
    } finally {
      closeSync(this.fd);
    }
  }
}
