/**
 * Result store on the filesystem: `<dataDir>/traces/<id>/nodes/<node>/{events.ndjson,summary.json}`.
 * Uploads are received into `<dataDir>/tmp`, checked, then renamed into place (a reader never
 * sees half a result).
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { NodeSummary } from '../../../contracts/index.ts';
import { InvalidError } from '../errors.ts';
import type { ResultStore, StoredUpload } from './result-store.ts';
import { assertNodeName, assertTraceId } from './safe-names.ts';
import { receiveToFile, unpackResultArchive } from './upload-archive.ts';

/** Slack above maxBytes allowed for the uncompressed events file (the runner caps it itself). */
const UNCOMPRESSED_SLACK = 1024 * 1024;

function checkSummary(raw: string, traceId: string, node: string): NodeSummary {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new InvalidError('body', 'summary.json in the result archive is not JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new InvalidError('body', 'summary.json must be an object');
  const s = parsed as Partial<NodeSummary>;
  for (const key of ['events', 'lostEvents'] as const) {
    if (typeof s[key] !== 'number' || !Number.isInteger(s[key]) || (s[key] as number) < 0) {
      throw new InvalidError('body', `summary.json: ${key} must be a whole number`);
    }
  }
  if (s.traceId !== undefined && s.traceId !== traceId) throw new InvalidError('body', `summary.json is for trace ${String(s.traceId)}, not ${traceId}`);
  if (s.node !== undefined && s.node !== node) throw new InvalidError('body', `summary.json is for node ${String(s.node)}, not ${node}`);
  return s as NodeSummary;
}

export class FsResultStore implements ResultStore {
  constructor(private readonly dataDir: string) {}

  private traceDir(traceId: string): string {
    return join(this.dataDir, 'traces', assertTraceId(traceId));
  }

  private nodeDir(traceId: string, node: string): string {
    return join(this.traceDir(traceId), 'nodes', assertNodeName(node));
  }

  async saveNodeUpload(traceId: string, node: string, body: Readable, maxBytes: number): Promise<StoredUpload> {
    const finalDir = this.nodeDir(traceId, node);
    const work = join(this.dataDir, 'tmp', `upload-${randomUUID()}`);
    const unpacked = join(work, 'node');
    await mkdir(unpacked, { recursive: true });
    try {
      const archive = join(work, 'upload.tar.gz');
      const bytes = await receiveToFile(body, archive, maxBytes);
      await unpackResultArchive(archive, unpacked, maxBytes + UNCOMPRESSED_SLACK);
      const summary = checkSummary(await readFile(join(unpacked, 'summary.json'), 'utf8'), traceId, node);
      const eventsBytes = (await stat(join(unpacked, 'events.ndjson'))).size;
      await mkdir(join(this.traceDir(traceId), 'nodes'), { recursive: true });
      await rm(finalDir, { recursive: true, force: true });
      await rename(unpacked, finalDir);
      return { summary, bytes, eventsBytes };
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
