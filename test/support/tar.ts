/** Reads a tar.gz (a result upload, a bundle) into memory for assertions. Tests only. */
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { extract } from 'tar-stream';

/** The entries of a tar.gz: name → content. */
export async function untarGz(body: Buffer): Promise<Map<string, Buffer>> {
  const entries = new Map<string, Buffer>();
  const ex = extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, stream, next) => {
      const parts: Buffer[] = [];
      stream.on('data', (c: unknown) => parts.push(c as Buffer));
      stream.on('end', () => {
        entries.set(header.name, Buffer.concat(parts));
        next();
      });
      stream.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  Readable.from([gunzipSync(body)]).pipe(ex);
  await done;
  return entries;
}

/** The same, with each entry's content as UTF-8 text. */
export async function untarGzText(body: Buffer): Promise<Map<string, string>> {
  return new Map([...(await untarGz(body))].map(([name, content]) => [name, content.toString('utf8')]));
}
