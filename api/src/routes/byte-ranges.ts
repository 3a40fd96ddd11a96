/**
 * Resumable downloads (RFC 9110 §14): which part of a download a request asks for, from its
 * `Range` and `If-Range` headers and the download's strong entity tag. One byte range is served;
 * a request for several, or a Range this does not parse, gets the whole download (as the RFC
 * allows); an If-Range that is not the current entity tag (the download changed since the client's
 * first part, or a date) gets the whole download too, so a client never splices two versions.
 */
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import { RangeNotSatisfiableError } from '../errors.ts';

export type RangeAnswer = { kind: 'whole' } | { kind: 'part'; start: number; end: number };

export interface RangeHeaders {
  range?: string | string[] | undefined;
  'if-range'?: string | string[] | undefined;
}

/**
 * The part of a download of `size` bytes (undefined: not known yet, then the whole) that the
 * request asks for; `end` is exclusive. A range that starts at or past the end throws 416.
 */
export function requestedRange(headers: RangeHeaders, etag: string, size: number | undefined): RangeAnswer {
  const range = headers.range;
  if (typeof range !== 'string' || size === undefined) return { kind: 'whole' };
  const ifRange = headers['if-range'];
  if (ifRange !== undefined && ifRange !== etag) return { kind: 'whole' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(range);
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'whole' };
  if (m[1] === '') {
    // Suffix: the last n bytes.
    const n = Number(m[2]);
    if (n === 0) throw new RangeNotSatisfiableError('Range: a suffix of 0 bytes is empty', size);
    return { kind: 'part', start: Math.max(0, size - n), end: size };
  }
  const start = Number(m[1]);
  if (!Number.isSafeInteger(start)) return { kind: 'whole' };
  if (start >= size) throw new RangeNotSatisfiableError(`Range: starts at byte ${start}, the download has ${size}`, size);
  const last = m[2] === '' ? size - 1 : Number(m[2]);
  if (!Number.isSafeInteger(last) || last < start) return { kind: 'whole' };
  return { kind: 'part', start, end: Math.min(size, last + 1) };
}

/** The Content-Range of a part. */
export function contentRange(part: { start: number; end: number }, size: number): string {
  return `bytes ${part.start}-${part.end - 1}/${size}`;
}

/** A download that can be sent in parts: its strong entity tag, its length when known, its bytes. */
export interface ResumableDownload {
  etag: string;
  /** Undefined while not known: then no Range is answered (Accept-Ranges: none) and no length sent. */
  size: number | undefined;
  /** Bytes [start, end) (all of them by default). */
  read(start?: number, end?: number): Readable;
}

/**
 * Sends `download` on `reply` (content type and disposition set by the caller): its ETag and
 * Accept-Ranges, then the part the request asks for (206 with Content-Range) or the whole.
 */
export function sendResumable(reply: FastifyReply, headers: RangeHeaders, download: ResumableDownload): FastifyReply {
  void reply.header('etag', download.etag).header('accept-ranges', download.size === undefined ? 'none' : 'bytes');
  const part = requestedRange(headers, download.etag, download.size);
  if (part.kind === 'part') {
    return reply.code(206).header('content-range', contentRange(part, download.size!)).header('content-length', String(part.end - part.start)).send(download.read(part.start, part.end));
  }
  if (download.size !== undefined) void reply.header('content-length', String(download.size));
  return reply.send(download.read());
}
