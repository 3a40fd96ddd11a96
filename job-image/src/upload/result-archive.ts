/**
 * The node result as a tar.gz stream (events.ndjson + summary.json), read from disk entry by entry:
 * never built in memory, so a result of any size uploads in constant memory.
 */
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';

/** A gzip'd tar of `files` (stored under their base names). Errors surface on the returned stream. */
export function resultArchiveStream(files: readonly string[]): Readable {
  const pack = tarPack();
  const gzip = createGzip();
  // pipeline ties them both ways: a consumer that goes away destroys the pack, a pack error the gzip
  pipeline(pack, gzip).catch(() => {
    /* the error surfaces on the returned stream */
  });
  void (async () => {
    try {
      for (const file of files) {
        const st = statSync(file);
        const header = { name: basename(file), size: st.size, mode: 0o644, mtime: st.mtime };
        if (st.size === 0) {
          pack.entry(header, '');
          continue;
        }
        // read exactly the size announced in the header, even if the file grew since
        await pipeline(createReadStream(file, { start: 0, end: st.size - 1 }), pack.entry(header));
      }
      pack.finalize();
    } catch (err) {
      if (!pack.destroyed) pack.destroy(err as Error);
    }
  })();
  return gzip;
}
