/**
 * Result store on the filesystem: `<dataDir>/traces/<id>/nodes/<node>/{events.ndjson,summary.json}`
 * plus the columnar copy (columnar-events.ts). Uploads are received into `<dataDir>/tmp`, checked,
 * then renamed into place (a reader never sees half a result).
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { NodeSummary } from '../../../contracts/index.ts';
import type { ColumnarEngine } from './columnar-engine.ts';
import { readLayout } from './columnar-events.ts';
import { prepareUpload, type ColumnarTarget } from './node-ingest.ts';
import type { LocalColumnar, ResultStore, StoredEvents, StoredUpload } from './result-store.ts';
import { assertNodeName, assertTraceId } from './safe-names.ts';

export class FsResultStore implements ResultStore {
  /** Without an engine no columnar copy is written (queries then scan the NDJSON). */
  constructor(
    private readonly dataDir: string,
    private readonly engine?: ColumnarEngine,
  ) {}

  private traceDir(traceId: string): string {
    return join(this.dataDir, 'traces', assertTraceId(traceId));
  }

  private nodeDir(traceId: string, node: string): string {
    return join(this.traceDir(traceId), 'nodes', assertNodeName(node));
  }

  async saveNodeUpload(traceId: string, node: string, body: Readable, maxBytes: number, columnar?: ColumnarTarget): Promise<StoredUpload> {
    const finalDir = this.nodeDir(traceId, node);
    const work = join(this.dataDir, 'tmp', `upload-${randomUUID()}`);
    try {
      const prepared = await prepareUpload(work, traceId, node, body, maxBytes, this.engine, columnar);
      await mkdir(join(this.traceDir(traceId), 'nodes'), { recursive: true });
      // Swap in with two renames, so the old result stays whole until the new one is in place.
      const old = join(work, 'old');
      await rename(finalDir, old).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      await rename(prepared.dir, finalDir);
      return { summary: prepared.summary, bytes: prepared.bytes, eventsBytes: prepared.eventsBytes };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  async nodes(traceId: string): Promise<string[]> {
    try {
      return (await readdir(join(this.traceDir(traceId), 'nodes'))).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async readSummary(traceId: string, node: string): Promise<NodeSummary | undefined> {
    try {
      return JSON.parse(await readFile(join(this.nodeDir(traceId, node), 'summary.json'), 'utf8')) as NodeSummary;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async eventsSize(traceId: string, node: string): Promise<number | undefined> {
    try {
      return (await stat(join(this.nodeDir(traceId, node), 'events.ndjson'))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  eventsStream(traceId: string, node: string, start = 0): Readable {
    return createReadStream(join(this.nodeDir(traceId, node), 'events.ndjson'), { start });
  }

  async events(traceId: string, node: string): Promise<StoredEvents | undefined> {
    const file = join(this.nodeDir(traceId, node), 'events.ndjson');
    let st;
    try {
      st = await stat(file, { bigint: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const { ino, size, mtimeNs } = st;
    return {
      size: Number(size),
      // An upload is a new file renamed into place: a new inode.
      etag: `"${ino.toString(36)}-${size.toString(36)}-${mtimeNs.toString(36)}"`,
      read(start = 0, end?: number): Readable {
        const out = new PassThrough();
        if (end !== undefined && end <= start) return out.end() as PassThrough;
        void (async () => {
          const fh = await open(file, 'r');
          const now = await fh.stat({ bigint: true }).catch(async (err: unknown) => {
            await fh.close();
            throw err;
          });
          if (now.ino !== ino) {
            await fh.close();
            throw Object.assign(new Error(`the result of node ${node} was replaced while it was read`), { code: 'ERESULTREPLACED' });
          }
          await pipeline(fh.createReadStream({ start, ...(end !== undefined ? { end: end - 1 } : {}) }), out);
        })().catch((err: unknown) => out.destroy(err as Error));
        return out;
      },
    };
  }

  async columnar(traceId: string, node: string): Promise<LocalColumnar | undefined> {
    const dir = this.nodeDir(traceId, node);
    const layout = await readLayout(dir);
    if (!layout) return undefined;
    const events = await this.events(traceId, node);
    return events ? { dir, layout, events } : undefined;
  }

  async deleteTrace(traceId: string): Promise<void> {
    await rm(this.traceDir(traceId), { recursive: true, force: true });
  }

  async traceIds(): Promise<string[]> {
    try {
      return (await readdir(join(this.dataDir, 'traces'))).filter((n) => /^[0-9a-f-]{36}$/.test(n));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
}
