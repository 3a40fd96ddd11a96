/**
 * Checks and unpacks a runner's result upload: a tar.gz holding exactly `events.ndjson` and
 * `summary.json` (a leading `./` is accepted). Anything else is refused with a clear error.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { InvalidError, PayloadTooLargeError } from '../errors.ts';

export const RESULT_FILES = ['events.ndjson', 'summary.json'] as const;
const SUMMARY_MAX_BYTES = 8 * 1024 * 1024;

/** Passes bytes through; fails with PayloadTooLargeError past `max`. */
export function byteCap(max: number, what: string, onBytes?: (n: number) => void): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      onBytes?.(seen);
      if (seen > max) done(new PayloadTooLargeError(`${what} is larger than ${max} bytes`));
      else done(null, chunk);
    },
  });
}

/** Streams `body` to `file`, at most `max` bytes; resolves with the byte count. */
export async function receiveToFile(body: Readable, file: string, max: number): Promise<number> {
  let bytes = 0;
  await pipeline(body, byteCap(max, 'the upload', (n) => (bytes = n)), createWriteStream(file));
  return bytes;
}

/** Unpacks the result files of `archive` (a tar.gz) into `dir`; refuses malformed archives. */
export async function unpackResultArchive(archive: string, dir: string, maxUncompressed: number): Promise<void> {
  const found = new Set<string>();
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    // The archive's own error is reported once, by the pipeline below.
    stream.on('error', () => undefined);
    const name = header.name.replace(/^\.\//, '');
    if (header.type === 'directory' && (name === '' || name === '.')) {
      stream.resume();
      stream.on('end', next);
      return;
    }
    if (header.type !== 'file' || !(RESULT_FILES as readonly string[]).includes(name)) {
      stream.resume();
      ex.destroy(new InvalidError('body', `unexpected entry in the result archive: ${JSON.stringify(header.name)} (expected ${RESULT_FILES.join(' and ')})`));
      return;
    }
    if (found.has(name)) {
      stream.resume();
      ex.destroy(new InvalidError('body', `duplicate entry in the result archive: ${name}`));
      return;
    }
    found.add(name);
    const cap = name === 'summary.json' ? SUMMARY_MAX_BYTES : maxUncompressed;
    pipeline(
      stream,
      byteCap(cap, name),
      createWriteStream(join(dir, name)),
    ).then(
      () => next(),
      (err: unknown) => ex.destroy(err as Error),
    );
  });
  try {
    await pipeline(createReadStream(archive, { highWaterMark: 1 << 20 }), createGunzip({ chunkSize: 1 << 20 }), ex);
  } catch (err) {
    if (err instanceof InvalidError || err instanceof PayloadTooLargeError) throw err;
    throw new InvalidError('body', `the upload is not a valid tar.gz: ${(err as Error).message}`);
  }
  for (const name of RESULT_FILES) {
    if (!found.has(name)) throw new InvalidError('body', `the result archive has no ${name}`);
  }
}
