/**
 * Downloads to a file that survives a cut: the body goes to `<file>.partial`, and when the
 * connection breaks mid-body (or the body is shorter than its Content-Length) the next attempt
 * asks for the rest with `Range` + `If-Range` (the first answer's ETag). A 206 is appended; a 200
 * (the server cannot resume, or the download changed) starts the file again. The file appears
 * under its name only when whole; a cut is never a silently short file.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiRequestError, type ApiClient } from './api-client.ts';

export interface DownloadOptions {
  accept: string;
  /** Attempts in all (default 6). */
  attempts?: number;
  /** Delay before the second attempt, doubled each time up to 10 s (default 500 ms). */
  backoffMs?: number;
  onRetry?(info: { attempt: number; have: number; reason: string }): void;
}

export interface DownloadResult {
  bytes: number;
  attempts: number;
  /** Attempts answered 206 (resumed where the previous one was cut). */
  resumed: number;
}

function retryable(err: unknown): boolean {
  if (err instanceof ApiRequestError) return err.status === 0 || err.status === 429 || err.status >= 500;
  return true; // the body broke off
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

export async function downloadToFile(client: ApiClient, path: string, file: string, opts: DownloadOptions): Promise<DownloadResult> {
  const partial = `${file}.partial`;
  const attempts = opts.attempts ?? 6;
  let etag: string | undefined;
  let resumed = 0;
  await rm(partial, { force: true });
  try {
    for (let attempt = 1; ; attempt += 1) {
      const have = await fileSize(partial);
      try {
        const res = await client.request('GET', path, { accept: opts.accept, headers: have > 0 && etag ? { range: `bytes=${have}-`, 'if-range': etag } : {} });
        const from = res.status === 206 ? Number(/^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1] ?? NaN) : 0;
        if (res.status === 206 && from !== have) throw new Error(`the server resumed at byte ${from}, not ${have}`);
        if (res.status === 206) resumed += 1;
        etag = res.headers.get('etag') ?? undefined;
        const expected = res.headers.get('content-length');
        let got = 0;
        const count = new Transform({
          transform(chunk: Buffer, _enc, done) {
            got += chunk.length;
            done(null, chunk);
          },
        });
        const out = createWriteStream(partial, res.status === 206 ? { flags: 'r+', start: have } : { flags: 'w' });
        const closed = once(out, 'close');
        try {
          await pipeline(res.body ? Readable.fromWeb(res.body as WebReadableStream<Uint8Array>) : Readable.from([]), count, out);
        } finally {
          await closed.catch(() => undefined);
        }
        if (expected !== null && Number(expected) !== got) throw new Error(`the body ended after ${got} of ${expected} bytes`);
        await rename(partial, file);
        return { bytes: from + got, attempts: attempt, resumed };
      } catch (err) {
        if (attempt >= attempts || !retryable(err)) throw err;
        const reason = (err as Error).message || String(err);
        opts.onRetry?.({ attempt, have: await fileSize(partial), reason });
        await sleep(Math.min(10_000, (opts.backoffMs ?? 500) * 2 ** (attempt - 1)));
      }
    }
  } catch (err) {
    await rm(partial, { force: true });
    if (err instanceof ApiRequestError) throw err;
    throw new ApiRequestError(0, 'download_broken', `the download of ${path} broke off: ${(err as Error).message}`);
  }
}
