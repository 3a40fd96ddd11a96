/**
 * What every result store does with a runner's upload before it is made visible: receive the
 * tar.gz to a local file (capped), unpack and check it, and write the columnar copy of its
 * events. Nothing here is visible to readers; the store moves the directory into place after.
 */
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { NodeSummary } from '../../../contracts/index.ts';
import { InvalidError } from '../errors.ts';
import type { ColumnarEngine } from './columnar-engine.ts';
import { writeColumnar, type ColumnarLayout, type ColumnSpec } from './columnar-events.ts';
import { receiveToFile, unpackResultArchive } from './upload-archive.ts';

/** Slack above maxBytes allowed for the uncompressed events file (the runner caps it itself). */
const UNCOMPRESSED_SLACK = 1024 * 1024;

/** The layout of the columnar copy to write for an upload: the trace's gadget and its columns. */
export interface ColumnarTarget {
  gadget: string;
  columns: readonly ColumnSpec[];
}

export interface PreparedUpload {
  /** Directory holding events.ndjson, summary.json and, with a columnar target, the columnar files. */
  dir: string;
  summary: NodeSummary;
  bytes: number;
  eventsBytes: number;
  columnar?: ColumnarLayout;
}

export function checkSummary(raw: string, traceId: string, node: string): NodeSummary {
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

/**
 * Receives, unpacks and checks an upload into `work/node`, and writes its columnar copy there.
 * `alongside` (e.g. sending the checked files on to an object store) runs while the copy is written.
 */
export async function prepareUpload(
  work: string,
  traceId: string,
  node: string,
  body: Readable,
  maxBytes: number,
  engine: ColumnarEngine | undefined,
  columnar: ColumnarTarget | undefined,
  alongside?: (dir: string) => Promise<void>,
): Promise<PreparedUpload> {
  const dir = join(work, 'node');
  await mkdir(dir, { recursive: true });
  const archive = join(work, 'upload.tar.gz');
  const bytes = await receiveToFile(body, archive, maxBytes);
  await unpackResultArchive(archive, dir, maxBytes + UNCOMPRESSED_SLACK);
  const summary = checkSummary(await readFile(join(dir, 'summary.json'), 'utf8'), traceId, node);
  const eventsBytes = (await stat(join(dir, 'events.ndjson'))).size;
  const prepared: PreparedUpload = { dir, summary, bytes, eventsBytes };
  // Both run to their end before either's error is reported: the caller removes `work` after.
  const [written, sent] = await Promise.allSettled([
    engine && columnar ? writeColumnar(engine, join(dir, 'events.ndjson'), dir, columnar.gadget, columnar.columns) : Promise.resolve(undefined),
    alongside ? alongside(dir) : Promise.resolve(),
  ]);
  if (written.status === 'rejected') throw written.reason;
  if (sent.status === 'rejected') throw sent.reason;
  if (written.value) prepared.columnar = written.value;
  return prepared;
}
