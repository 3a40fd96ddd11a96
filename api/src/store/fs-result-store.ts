/**
 * Result store on the filesystem: `<dataDir>/traces/<id>/nodes/<node>/{events.ndjson,summary.json}`
 * plus the columnar copy (columnar-events.ts). Uploads are received into `<dataDir>/tmp`, checked,
 * then renamed into place (a reader never sees half a result).
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { NodeSummary } from '../../../contracts/index.ts';
import type { ColumnarEngine } from './columnar-engine.ts';
import { readLayout } from './columnar-events.ts';
import { prepareUpload, type ColumnarTarget } from './node-ingest.ts';
import type { LocalColumnar, ResultStore, StoredUpload } from './result-store.ts';
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

  async columnar(traceId: string, node: string): Promise<LocalColumnar | undefined> {
    const dir = this.nodeDir(traceId, node);
    try {
      return { dir, layout: await readLayout(dir) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
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
