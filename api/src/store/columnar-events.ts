/**
 * The columnar copy of a node's events, written at ingest beside events.ndjson and queried with
 * DuckDB: `events.parquet` (one row per event, in the NDJSON's order: a row's number in the file
 * is its place in the NDJSON), `counts.parquet` (per field, pod and value, how many events: top-N
 * without a scan), `line-offsets.bin` (where every LINE_STRIDE-th event's line starts in the
 * NDJSON, so a page reads its events' lines as uploaded instead of decoding whole row groups) and
 * `columnar.json` (the layout, so a reader needs no Parquet footer to validate a query).
 *
 * Timestamps are UBIGINT nanoseconds whichever JSON form they arrive in (a number or an exact
 * decimal string); pages built from the Parquet give them back in the form the node's NDJSON used.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { GadgetField } from '../gadget-catalogue.ts';
import type { ColumnarEngine } from './columnar-engine.ts';
import { sqlIdent, sqlString } from './columnar-engine.ts';

export type ColumnKind = 'string' | 'integer' | 'unsigned' | 'boolean';

export interface ColumnSpec {
  name: string;
  kind: ColumnKind;
}

export const COLUMNAR_FILES = ['events.parquet', 'counts.parquet', 'line-offsets.bin', 'columnar.json'] as const;

/** The layout written by this version; a copy of another version is not read (queries then scan the NDJSON). */
export const LAYOUT_VERSION = 2;
/** line-offsets.bin holds the start of events 0, LINE_STRIDE, 2·LINE_STRIDE, … (u64 little-endian). */
export const LINE_STRIDE = 256;

export interface ColumnarLayout {
  version: typeof LAYOUT_VERSION;
  gadget: string;
  columns: ColumnSpec[];
  /** The JSON form of `timestamp` in the node's NDJSON. */
  timestampAs: 'number' | 'string';
  rows: number;
  /** Fields whose (pod, value) counts are in counts.parquet; top-N of other fields scans. */
  countedFields: string[];
  /** Every value (as JSON text) of the fields with few of them: a query for another value skips the node. */
  distinct?: Record<string, string[]>;
  /**
   * True when line-offsets.bin maps the rows to the NDJSON's lines (every non-empty line is a row);
   * false when the NDJSON had lines that are not events, and pages are built from the Parquet.
   */
  lineOffsets: boolean;
}

/** Fields every event has (contracts' BaseEvent + EventAttribution), before the gadget's own. */
const BASE_COLUMNS: ColumnSpec[] = [
  { name: 'gadget', kind: 'string' },
  { name: 'timestamp', kind: 'unsigned' },
  { name: 'pid', kind: 'integer' },
  { name: 'tid', kind: 'integer' },
  { name: 'ppid', kind: 'integer' },
  { name: 'uid', kind: 'integer' },
  { name: 'comm', kind: 'string' },
  { name: 'cgroupId', kind: 'unsigned' },
];
const ATTRIBUTION_COLUMNS: ColumnSpec[] = [
  { name: 'node', kind: 'string' },
  { name: 'namespace', kind: 'string' },
  { name: 'pod', kind: 'string' },
  { name: 'container', kind: 'string' },
];

/** More distinct values than this in one node's result: the field is not pre-counted (its top-N scans). */
const COUNTED_DISTINCT_MAX = 20_000;
/** Fields with at most this many distinct values list them in the layout. */
const LISTED_DISTINCT_MAX = 256;
/** Rows the cardinality probe reads: a field with more distinct values than COUNTED_DISTINCT_MAX in them is not counted. */
const PROBE_ROWS = 65_536;
/**
 * Rows per Parquet row group: small enough that a cursor (`file_row_number >= n`) skips most of a file. Every
 * column may be dictionary-encoded up to that many values, so that each gets a bloom filter and an
 * equality on a rare value skips the row groups that cannot hold it.
 */
const ROW_GROUP_ROWS = 65_536;

/** The largest event line read. */
const MAX_OBJECT_BYTES = 16 * 1024 * 1024;

/** The virtual column of read_parquet(…, file_row_number = true): a row's place in the file. */
export const ROW_NUMBER = 'file_row_number';

const SQL_TYPE: Record<ColumnKind, string> = { string: 'VARCHAR', integer: 'BIGINT', unsigned: 'UBIGINT', boolean: 'BOOLEAN' };

/** The columns of a gadget's events: the common fields, the gadget's declared fields, the attribution. */
export function columnsFor(fields: readonly GadgetField[]): ColumnSpec[] {
  const out = [...BASE_COLUMNS];
  const taken = new Set([...BASE_COLUMNS, ...ATTRIBUTION_COLUMNS].map((c) => c.name));
  for (const f of fields) {
    if (taken.has(f.name) || f.name === ROW_NUMBER) continue;
    taken.add(f.name);
    out.push({ name: f.name, kind: f.type === 'number' ? 'integer' : f.type === 'boolean' ? 'boolean' : 'string' });
  }
  return [...out, ...ATTRIBUTION_COLUMNS];
}

/** How the first event of an NDJSON file writes its timestamp (number unless it is a string). */
async function timestampForm(ndjson: string): Promise<'number' | 'string'> {
  const stream = createReadStream(ndjson, { start: 0, end: 64 * 1024 - 1 });
  let head = '';
  for await (const chunk of stream as AsyncIterable<Buffer>) head += chunk.toString('utf8');
  const first = head.split('\n', 1)[0] ?? '';
  return /"timestamp"\s*:\s*"/.test(first) ? 'string' : 'number';
}

/** Start offsets of every LINE_STRIDE-th non-empty line, how many non-empty lines, and the last line when it has no newline. */
export interface LineScan {
  offsets: number[];
  lines: number;
  unterminatedTail?: string;
}

/** Scans an NDJSON file for its lines (a newline search, no parsing). */
export async function scanLines(ndjson: string): Promise<LineScan> {
  const offsets: number[] = [];
  let lines = 0;
  let base = 0;
  let lineStart = 0;
  for await (const chunk of createReadStream(ndjson, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, nl + 1)) {
      const end = base + nl;
      if (end > lineStart) {
        if (lines % LINE_STRIDE === 0) offsets.push(lineStart);
        lines += 1;
      }
      lineStart = end + 1;
    }
    base += chunk.length;
  }
  if (base === lineStart) return { offsets, lines };
  if (lines % LINE_STRIDE === 0) offsets.push(lineStart);
  // The last line has no newline: read it to tell an event from half of one.
  let tail = '';
  for await (const chunk of createReadStream(ndjson, { start: lineStart, end: Math.min(base, lineStart + MAX_OBJECT_BYTES) - 1 }) as AsyncIterable<Buffer>) tail += chunk.toString('utf8');
  return { offsets, lines: lines + 1, unterminatedTail: tail };
}

function isJsonObject(text: string | undefined): boolean {
  try {
    const v = JSON.parse(text ?? '') as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}

/**
 * Whether the Parquet's rows are the NDJSON's non-empty lines in order: all of them, or all but an
 * unterminated last line that is not an event (a runner killed mid-write). Anything else — a line
 * in the middle that is not an event — and row numbers no longer name lines.
 */
export function rowsAreLines(scan: LineScan, rows: number): boolean {
  if (rows === scan.lines) return true;
  return rows === scan.lines - 1 && scan.unterminatedTail !== undefined && !isJsonObject(scan.unterminatedTail);
}

function offsetsFile(offsets: readonly number[]): Buffer {
  const buf = Buffer.alloc(offsets.length * 8);
  offsets.forEach((o, i) => buf.writeBigUInt64LE(BigInt(o), i * 8));
  return buf;
}

export async function readLineOffsets(dir: string): Promise<BigUint64Array> {
  const buf = await readFile(join(dir, 'line-offsets.bin'));
  const out = new BigUint64Array(buf.length / 8);
  for (let i = 0; i < out.length; i += 1) out[i] = buf.readBigUInt64LE(i * 8);
  return out;
}

/**
 * Writes the columnar copy of `ndjson` into `dir`. A line that is not an event (a runner killed
 * mid-line leaves half of one) is skipped; `rows` says how many made it.
 */
export async function writeColumnar(engine: ColumnarEngine, ndjson: string, dir: string, gadget: string, columns: readonly ColumnSpec[]): Promise<ColumnarLayout> {
  const events = join(dir, 'events.parquet');
  const counts = join(dir, 'counts.parquet');
  const columnTypes = columns.map((c) => `${sqlString(c.name)}: ${sqlString(SQL_TYPE[c.kind])}`).join(', ');
  const timestampAs = await timestampForm(ndjson);
  // The newline scan runs on this thread while DuckDB converts on its own.
  const lines = scanLines(ndjson);
  lines.catch(() => undefined);
  return engine.withConnection(async (db) => {
    // No row-number column: the row's place in the file is one (file_row_number), and numbering
    // rows in SQL would need a window over the whole input.
    await db.run(
      `COPY (SELECT * FROM read_json(${sqlString(ndjson)}, format = 'newline_delimited', columns = {${columnTypes}}, ignore_errors = true, maximum_object_size = ${MAX_OBJECT_BYTES}))
       TO ${sqlString(events)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_ROWS}, DICTIONARY_SIZE_LIMIT ${ROW_GROUP_ROWS})`,
    );
    const countable = columns.filter((c) => c.name !== 'timestamp');
    // Cardinality from the first rows only: a field with too many values there has too many in all.
    const probe = await db.runAndReadAll(
      `SELECT (SELECT count(*) FROM read_parquet(${sqlString(events)})) AS rows, ${countable.map((c, i) => `approx_count_distinct(${sqlIdent(c.name)}) AS d${i}`).join(', ')}
       FROM (SELECT * FROM read_parquet(${sqlString(events)}) LIMIT ${PROBE_ROWS})`,
    );
    const row = probe.getRows()[0] ?? [];
    const rows = Number(row[0] ?? 0);
    const candidates = countable.filter((_c, i) => Number(row[i + 1] ?? 0) <= COUNTED_DISTINCT_MAX);
    // A field that turns out to have too many values over the whole file is left out of
    // counts.parquet (its top-N scans).
    let counted: ColumnSpec[] = [];
    if (candidates.length > 0) {
      const parts = candidates.map(
        (c) =>
          `SELECT ${sqlString(c.name)} AS field, pod, to_json(${sqlIdent(c.name)})::VARCHAR AS value, count(*)::UBIGINT AS n
           FROM read_parquet(${sqlString(events)}) WHERE ${sqlIdent(c.name)} IS NOT NULL GROUP BY pod, ${sqlIdent(c.name)}`,
      );
      await db.run(`CREATE TEMP TABLE counted AS ${parts.join(' UNION ALL ')}`);
      try {
        const sizes = await db.runAndReadAll(`SELECT field, count(DISTINCT value) AS k FROM counted GROUP BY field`);
        const tooMany = new Set((sizes.getRowsJS() as [string, bigint][]).filter(([, k]) => Number(k) > COUNTED_DISTINCT_MAX).map(([f]) => f));
        counted = candidates.filter((c) => !tooMany.has(c.name));
      } catch (err) {
        await db.run('DROP TABLE IF EXISTS counted');
        throw err;
      }
    }
    const keep = counted.length > 0 ? `SELECT * FROM counted WHERE field IN (${counted.map((c) => sqlString(c.name)).join(', ')})` : `SELECT ''::VARCHAR AS field, ''::VARCHAR AS pod, ''::VARCHAR AS value, 0::UBIGINT AS n WHERE false`;
    try {
      await db.run(`COPY (${keep}) TO ${sqlString(counts)} (FORMAT parquet, COMPRESSION zstd)`);
    } finally {
      await db.run('DROP TABLE IF EXISTS counted');
    }
    const distinct: Record<string, string[]> = {};
    const few = counted.filter((c) => Number(row[countable.indexOf(c) + 1] ?? 0) <= LISTED_DISTINCT_MAX / 2);
    if (few.length > 0) {
      const listed = await db.runAndReadAll(
        `SELECT field, list(DISTINCT value ORDER BY value) AS vals, count(DISTINCT value) AS k FROM read_parquet(${sqlString(counts)}) WHERE field IN (${few.map((c) => sqlString(c.name)).join(', ')}) GROUP BY field`,
      );
      for (const [field, vals, k] of listed.getRowsJS() as [string, string[], bigint][]) if (Number(k) <= LISTED_DISTINCT_MAX) distinct[field] = vals;
    }
    const scan = await lines;
    const lineOffsets = rowsAreLines(scan, rows);
    await writeFile(join(dir, 'line-offsets.bin'), lineOffsets ? offsetsFile(scan.offsets) : Buffer.alloc(0));
    const layout: ColumnarLayout = {
      version: LAYOUT_VERSION,
      gadget,
      columns: [...columns],
      timestampAs,
      rows,
      countedFields: counted.map((c) => c.name),
      distinct,
      lineOffsets,
    };
    await writeFile(join(dir, 'columnar.json'), JSON.stringify(layout) + '\n');
    return layout;
  });
}

/** The node's layout, or undefined when it has no columnar copy of this version. */
export async function readLayout(dir: string): Promise<ColumnarLayout | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, 'columnar.json'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const layout = JSON.parse(text) as { version?: number };
  return layout.version === LAYOUT_VERSION ? (layout as ColumnarLayout) : undefined;
}
