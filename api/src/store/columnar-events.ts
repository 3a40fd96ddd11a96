/**
 * The columnar copy of a node's events, written at ingest beside events.ndjson and queried with
 * DuckDB: `events.parquet` (one row per event, in the NDJSON's order, `seq` = row number),
 * `counts.parquet` (per field, pod and value, how many events: top-N without a scan) and
 * `columnar.json` (the layout, so a reader needs no Parquet footer to validate a query).
 *
 * Timestamps are UBIGINT nanoseconds whichever JSON form they arrive in (a number or an exact
 * decimal string); pages give them back in the form the node's NDJSON used.
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

export const COLUMNAR_FILES = ['events.parquet', 'counts.parquet', 'columnar.json'] as const;

export interface ColumnarLayout {
  version: 1;
  gadget: string;
  columns: ColumnSpec[];
  /** The JSON form of `timestamp` in the node's NDJSON. */
  timestampAs: 'number' | 'string';
  rows: number;
  /** Fields whose (pod, value) counts are in counts.parquet; top-N of other fields scans. */
  countedFields: string[];
  /** Every value (as JSON text) of the fields with few of them: a query for another value skips the node. */
  distinct?: Record<string, string[]>;
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
/**
 * Rows per Parquet row group: small enough that a cursor (`seq >= n`) skips most of a file. Every
 * column may be dictionary-encoded up to that many values, so that each gets a bloom filter and an
 * equality on a rare value skips the row groups that cannot hold it.
 */
const ROW_GROUP_ROWS = 65_536;

const SQL_TYPE: Record<ColumnKind, string> = { string: 'VARCHAR', integer: 'BIGINT', unsigned: 'UBIGINT', boolean: 'BOOLEAN' };

/** The columns of a gadget's events: the common fields, the gadget's declared fields, the attribution. */
export function columnsFor(fields: readonly GadgetField[]): ColumnSpec[] {
  const out = [...BASE_COLUMNS];
  const taken = new Set([...BASE_COLUMNS, ...ATTRIBUTION_COLUMNS].map((c) => c.name));
  for (const f of fields) {
    if (taken.has(f.name) || f.name === 'seq') continue;
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

/**
 * Writes the columnar copy of `ndjson` into `dir`. A line that is not an event (a runner killed
 * mid-line leaves half of one) is skipped; `rows` says how many made it.
 */
export async function writeColumnar(engine: ColumnarEngine, ndjson: string, dir: string, gadget: string, columns: readonly ColumnSpec[]): Promise<ColumnarLayout> {
  const events = join(dir, 'events.parquet');
  const counts = join(dir, 'counts.parquet');
  const columnTypes = columns.map((c) => `${sqlString(c.name)}: ${sqlString(SQL_TYPE[c.kind])}`).join(', ');
  const timestampAs = await timestampForm(ndjson);
  return engine.withConnection(async (db) => {
    await db.run(
      `COPY (SELECT (row_number() OVER ()) - 1 AS seq, * FROM read_json(${sqlString(ndjson)}, format = 'newline_delimited', columns = {${columnTypes}}, ignore_errors = true, maximum_object_size = 16777216))
       TO ${sqlString(events)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${ROW_GROUP_ROWS}, DICTIONARY_SIZE_LIMIT ${ROW_GROUP_ROWS})`,
    );
    const countable = columns.filter((c) => c.name !== 'timestamp');
    const probe = await db.runAndReadAll(
      `SELECT count(*) AS rows, ${countable.map((c, i) => `approx_count_distinct(${sqlIdent(c.name)}) AS d${i}`).join(', ')} FROM read_parquet(${sqlString(events)})`,
    );
    const row = probe.getRows()[0] ?? [];
    const rows = Number(row[0] ?? 0);
    const counted = countable.filter((_c, i) => Number(row[i + 1] ?? 0) <= COUNTED_DISTINCT_MAX);
    const parts = counted.map(
      (c) =>
        `SELECT ${sqlString(c.name)} AS field, pod, to_json(${sqlIdent(c.name)})::VARCHAR AS value, count(*)::UBIGINT AS n
         FROM read_parquet(${sqlString(events)}) WHERE ${sqlIdent(c.name)} IS NOT NULL GROUP BY pod, ${sqlIdent(c.name)}`,
    );
    const body = parts.length > 0 ? parts.join(' UNION ALL ') : `SELECT ''::VARCHAR AS field, ''::VARCHAR AS pod, ''::VARCHAR AS value, 0::UBIGINT AS n WHERE false`;
    await db.run(`COPY (${body}) TO ${sqlString(counts)} (FORMAT parquet, COMPRESSION zstd)`);
    const distinct: Record<string, string[]> = {};
    const few = countable.filter((_c, i) => Number(row[i + 1] ?? 0) <= LISTED_DISTINCT_MAX / 2);
    if (few.length > 0) {
      const listed = await db.runAndReadAll(
        `SELECT field, list(DISTINCT value ORDER BY value) AS vals, count(DISTINCT value) AS k FROM read_parquet(${sqlString(counts)}) WHERE field IN (${few.map((c) => sqlString(c.name)).join(', ')}) GROUP BY field`,
      );
      for (const [field, vals, k] of listed.getRowsJS() as [string, string[], bigint][]) if (Number(k) <= LISTED_DISTINCT_MAX) distinct[field] = vals;
    }
    const layout: ColumnarLayout = { version: 1, gadget, columns: [...columns], timestampAs, rows, countedFields: counted.map((c) => c.name), distinct };
    await writeFile(join(dir, 'columnar.json'), JSON.stringify(layout) + '\n');
    return layout;
  });
}

export async function readLayout(dir: string): Promise<ColumnarLayout> {
  return JSON.parse(await readFile(join(dir, 'columnar.json'), 'utf8')) as ColumnarLayout;
}
