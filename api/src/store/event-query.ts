/**
 * Queries of a trace's events: a filter read from the query string (node, a time range, equality
 * on any field of the gadget's events), answered from the nodes' columnar copies with DuckDB —
 * pages with a cursor, top-N counts of a field — without reading the NDJSON.
 */
import { InvalidError } from '../errors.ts';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ColumnarEngine } from './columnar-engine.ts';
import { sqlIdent, sqlString } from './columnar-engine.ts';
import { LINE_STRIDE, ROW_NUMBER, readLineOffsets, type ColumnKind, type ColumnSpec, type ColumnarLayout } from './columnar-events.ts';
import type { LocalColumnar, StoredEvents } from './result-store.ts';

export interface FieldEquals {
  field: string;
  kind: ColumnKind;
  /** The value as given (validated for the field's kind). */
  value: string;
}

export interface EventQuery {
  node?: string;
  equals: FieldEquals[];
  /** Nanoseconds since the epoch, inclusive. */
  since?: bigint;
  /** Nanoseconds since the epoch, exclusive. */
  until?: bigint;
}

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

function single(raw: unknown, field: string): string {
  if (Array.isArray(raw)) throw new InvalidError(field, `${field}: give one value, not ${raw.length}`);
  return String(raw);
}

/** A time as nanoseconds since the epoch: a whole number of ns, or an ISO 8601 date-time. */
export function parseTimeNs(raw: string, field: string): bigint {
  if (/^\d{1,20}$/.test(raw)) {
    const ns = BigInt(raw);
    if (ns > U64_MAX) throw new InvalidError(field, `${field}: more than 2^64-1 ns`);
    return ns;
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(raw)) {
    const ms = Date.parse(raw);
    if (Number.isFinite(ms) && ms >= 0) {
      const frac = /\.(\d{1,9})/.exec(raw)?.[1] ?? '';
      const subMs = BigInt((frac + '000000000').slice(3, 9));
      return BigInt(Math.floor(ms)) * 1_000_000n + subMs;
    }
  }
  throw new InvalidError(field, `${field}: must be nanoseconds since the epoch or an ISO 8601 date-time (e.g. 2026-12-01T10:00:00.5Z), got ${JSON.stringify(raw)}`);
}

function checkValue(field: string, kind: ColumnKind, raw: string): string {
  const bad = (what: string) => new InvalidError(field, `${field}: must be ${what}, got ${JSON.stringify(raw)}`);
  if (kind === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw bad('true or false');
  } else if (kind === 'integer') {
    if (!/^-?\d{1,19}$/.test(raw) || BigInt(raw) < I64_MIN || BigInt(raw) > I64_MAX) throw bad('a whole number');
    return BigInt(raw).toString();
  } else if (kind === 'unsigned') {
    if (!/^\d{1,20}$/.test(raw) || BigInt(raw) > U64_MAX) throw bad('a whole number ≥ 0');
    return BigInt(raw).toString();
  }
  return raw;
}

/**
 * The filter in a query string. `reserved` names the route's own parameters (limit, cursor, …),
 * which are not filters; any other name must be a field of the gadget's events.
 */
export function parseEventQuery(query: Readonly<Record<string, unknown>>, columns: readonly ColumnSpec[], reserved: readonly string[]): EventQuery {
  const out: EventQuery = { equals: [] };
  const byName = new Map(columns.map((c) => [c.name, c]));
  for (const [name, raw] of Object.entries(query)) {
    if (raw === undefined || reserved.includes(name)) continue;
    const value = single(raw, name);
    if (name === 'node') out.node = value;
    else if (name === 'since') out.since = parseTimeNs(value, name);
    else if (name === 'until') out.until = parseTimeNs(value, name);
    else {
      const column = byName.get(name);
      if (!column) throw new InvalidError(name, `${name}: not a field of these events (fields: ${columns.map((c) => c.name).join(', ')}; also node, since, until)`);
      out.equals.push({ field: name, kind: column.kind, value: checkValue(name, column.kind, value) });
    }
  }
  if (out.since !== undefined && out.until !== undefined && out.since >= out.until) throw new InvalidError('until', 'until: must be after since');
  return out;
}

/** SQL of the filter and its parameters ($1…). */
function whereClause(q: EventQuery, params: string[]): string[] {
  const where: string[] = [];
  const cast: Record<ColumnKind, string> = { string: 'VARCHAR', integer: 'BIGINT', unsigned: 'UBIGINT', boolean: 'BOOLEAN' };
  for (const eq of q.equals) {
    params.push(eq.value);
    where.push(`${sqlIdent(eq.field)} = $${params.length}::${cast[eq.kind]}`);
  }
  if (q.since !== undefined) {
    params.push(String(q.since));
    where.push(`"timestamp" >= $${params.length}::UBIGINT`);
  }
  if (q.until !== undefined) {
    params.push(String(q.until));
    where.push(`"timestamp" < $${params.length}::UBIGINT`);
  }
  return where;
}

/**
 * SQL for one event as JSON text: its fields in layout order, absent ones left out (concat_ws
 * skips NULLs), integers exact, the timestamp in the NDJSON's form. Built by DuckDB: converting
 * rows to JS values first costs more than the query.
 */
export function eventJsonSql(layout: ColumnarLayout): string {
  const parts = layout.columns.map((c) => {
    const key = sqlString(`${JSON.stringify(c.name)}:`);
    if (c.name === 'timestamp' && layout.timestampAs === 'string') return `${key} || '"' || ${sqlIdent(c.name)}::VARCHAR || '"'`;
    return `${key} || to_json(${sqlIdent(c.name)})::VARCHAR`;
  });
  return `'{' || concat_ws(',', ${parts.join(', ')}) || '}'`;
}

/** False when the node's layout shows that no event can match (an equality on a value the node does not have). */
export function mayMatch(layout: ColumnarLayout, q: EventQuery): boolean {
  for (const eq of q.equals) {
    const values = layout.distinct?.[eq.field];
    if (!values) continue;
    const text = eq.kind === 'string' ? JSON.stringify(eq.value) : eq.value;
    if (!values.includes(text)) return false;
  }
  return true;
}

export interface ColumnarNode {
  node: string;
  columnar: LocalColumnar;
}

export interface EventPageText {
  /** Each item's JSON text. */
  items: string[];
  next?: { node: string; seq: number };
}

/** Reads of the NDJSON at once when a page's lines are fetched. */
const LINE_READS_IN_FLIGHT = 32;

/** Lines of a text (without their newlines), empty ones left out, as the line scan counts them. */
function nonEmptyLines(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0);
}

/**
 * The NDJSON lines of `rows` (ascending row numbers), read through the node's line offsets: each
 * run of neighbouring LINE_STRIDE-line blocks in one read. Undefined when a line is not JSON (the
 * page is then built from the Parquet).
 */
async function linesOfRows(dir: string, events: StoredEvents, rows: readonly number[]): Promise<string[] | undefined> {
  if (rows.length === 0) return [];
  const offsets = await readLineOffsets(dir);
  const blocks = [...new Set(rows.map((r) => Math.floor(r / LINE_STRIDE)))];
  const runs: { first: number; last: number }[] = [];
  for (const b of blocks) {
    const run = runs[runs.length - 1];
    if (run && run.last + 1 === b) run.last = b;
    else runs.push({ first: b, last: b });
  }
  const byRow = new Map<number, string>();
  const wanted = new Set(rows);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const run = runs[next++];
      if (!run) return;
      if (run.first >= offsets.length) throw new Error(`row ${run.first * LINE_STRIDE} is past the line offsets`);
      const start = Number(offsets[run.first]);
      const end = run.last + 1 < offsets.length ? Number(offsets[run.last + 1]) : events.size;
      const chunks: Buffer[] = [];
      for await (const chunk of events.read(start, end) as AsyncIterable<Buffer>) chunks.push(chunk);
      const lines = nonEmptyLines(Buffer.concat(chunks).toString('utf8'));
      lines.forEach((line, i) => {
        const row = run.first * LINE_STRIDE + i;
        if (wanted.has(row)) byRow.set(row, line);
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(LINE_READS_IN_FLIGHT, runs.length) }, worker));
  const out: string[] = [];
  for (const r of rows) {
    const line = byRow.get(r);
    if (line === undefined) return undefined;
    try {
      JSON.parse(line);
    } catch {
      return undefined;
    }
    out.push(line);
  }
  return out;
}

/** The page's events of one node as JSON text: its NDJSON lines, or built from the Parquet when they cannot be used. */
async function pageLines(db: DuckDBConnection, columnar: LocalColumnar, rows: readonly number[]): Promise<string[]> {
  if (rows.length === 0) return [];
  if (columnar.layout.lineOffsets) {
    const lines = await linesOfRows(columnar.dir, columnar.events, rows);
    if (lines) return lines;
  }
  const sql = `SELECT ${eventJsonSql(columnar.layout)} AS line FROM read_parquet(${sqlString(`${columnar.dir}/events.parquet`)}, file_row_number = true) WHERE ${ROW_NUMBER} IN (${rows.join(', ')}) ORDER BY ${ROW_NUMBER}`;
  return ((await db.runAndReadAll(sql)).getColumnsJS()[0] ?? []) as string[];
}

/**
 * Up to `limit` matching events from `nodes` (in node order, then file order), from `start`. The
 * filter reads only its own columns (a row group whose statistics or bloom filter rule the value
 * out is skipped), for the first node alone and then for all the others in one query; the page's
 * events are then read as lines of the NDJSON, every node's at once, not decoded from every column
 * of their row groups.
 */
export async function columnarPage(
  engine: ColumnarEngine,
  nodes: readonly ColumnarNode[],
  q: EventQuery,
  limit: number,
  start?: { node: string; seq: number },
): Promise<EventPageText> {
  const index = start ? nodes.findIndex((n) => n.node === start.node) : 0;
  if (index < 0) return { items: [] };
  const candidates = nodes.slice(index).filter((n) => mayMatch(n.columnar.layout, q));
  const params: string[] = [];
  const where = whereClause(q, params);
  const following = (node: string) => nodes[nodes.findIndex((n) => n.node === node) + 1];
  const items: string[] = [];
  return engine.withConnection(async (db) => {
    // A frequent value fills the page from the first node: the others are not read at all.
    for (const batch of [candidates.slice(0, 1), candidates.slice(1)]) {
      if (batch.length === 0) continue;
      const want = limit - items.length;
      const parts = batch.map((n, k) => {
        const cond = [...where, ...(start && start.node === n.node && start.seq > 0 ? [`${ROW_NUMBER} >= ${start.seq}`] : [])];
        return `(SELECT ${k} AS k, ${ROW_NUMBER} AS r FROM read_parquet(${sqlString(`${n.columnar.dir}/events.parquet`)}, file_row_number = true)${cond.length ? ` WHERE ${cond.join(' AND ')}` : ''} LIMIT ${want + 1})`;
      });
      const found = (await db.runAndReadAll(parts.join(' UNION ALL '), params)).getColumnsJS();
      const byNode = batch.map((): number[] => []);
      const ks = (found[0] ?? []) as number[];
      const rs = (found[1] ?? []) as bigint[];
      ks.forEach((k, i) => byNode[k]!.push(Number(rs[i])));
      // Which rows of which nodes the page holds, and where the next one starts.
      const plan: { n: ColumnarNode; rows: number[] }[] = [];
      let need = want;
      let next: { node: string; seq: number } | undefined;
      let full = false;
      for (const [k, n] of batch.entries()) {
        const rows = byNode[k]!.sort((x, y) => x - y);
        plan.push({ n, rows: rows.slice(0, need) });
        if (rows.length > need) {
          next = { node: n.node, seq: rows[need]! };
          full = true;
          break;
        }
        need -= rows.length;
        if (need === 0) {
          const after = following(n.node);
          if (after) next = { node: after.node, seq: 0 };
          full = true;
          break;
        }
      }
      const lines = await Promise.all(plan.map((p) => pageLines(db, p.n.columnar, p.rows)));
      for (const l of lines) items.push(...l);
      if (full) return next ? { items, next } : { items };
    }
    return { items };
  });
}

export interface TopEntryValue {
  /** The value as JSON text (exact for 64-bit integers). */
  valueJson: string;
  count: number;
}

/**
 * The `limit` most frequent values of `field` among the matching events. From the pre-computed
 * counts when the filter is at most a pod and the field was counted at ingest; else a scan of the
 * column.
 */
export async function columnarTop(engine: ColumnarEngine, nodes: ColumnarNode[], q: EventQuery, field: string, limit: number): Promise<TopEntryValue[]> {
  nodes = nodes.filter((n) => mayMatch(n.columnar.layout, q));
  if (nodes.length === 0) return [];
  const podOnly = q.since === undefined && q.until === undefined && q.equals.every((e) => e.field === 'pod');
  const fromCounts = podOnly && nodes.every((n) => n.columnar.layout.countedFields.includes(field));
  let sql: string;
  const params: string[] = [];
  if (fromCounts) {
    params.push(field);
    const files = nodes.map((n) => sqlString(`${n.columnar.dir}/counts.parquet`)).join(', ');
    const where = ['field = $1'];
    for (const eq of q.equals) {
      params.push(eq.value);
      where.push(`pod = $${params.length}`);
    }
    sql = `SELECT value, sum(n)::UBIGINT AS n FROM read_parquet([${files}]) WHERE ${where.join(' AND ')} GROUP BY value ORDER BY n DESC, value LIMIT ${limit}`;
  } else {
    const files = nodes.map((n) => sqlString(`${n.columnar.dir}/events.parquet`)).join(', ');
    const where = whereClause(q, params);
    where.push(`${sqlIdent(field)} IS NOT NULL`);
    sql = `SELECT to_json(${sqlIdent(field)})::VARCHAR AS value, count(*)::UBIGINT AS n FROM read_parquet([${files}], union_by_name = true) WHERE ${where.join(' AND ')} GROUP BY 1 ORDER BY n DESC, value LIMIT ${limit}`;
  }
  return engine.withConnection(async (db) => {
    const rows = (await db.runAndReadAll(sql, params)).getRowObjects() as { value: string; n: bigint }[];
    return rows.map((r) => ({ valueJson: r.value, count: Number(r.n) }));
  });
}
