/**
 * The query engine of the columnar copies: one in-process DuckDB (in memory, spilling to a temp
 * directory) per API process, a connection per operation so concurrent requests do not queue on
 * one. File paths and identifiers in SQL come from the store (validated names), quoted here.
 */
import { mkdirSync } from 'node:fs';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export interface ColumnarEngineOptions {
  /** Where DuckDB spills when a conversion does not fit in memory. */
  tempDir: string;
  threads?: number;
  memoryLimit?: string;
}

export function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function sqlIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export class ColumnarEngine {
  private constructor(private readonly instance: DuckDBInstance) {}

  static async open(opts: ColumnarEngineOptions): Promise<ColumnarEngine> {
    mkdirSync(opts.tempDir, { recursive: true });
    const instance = await DuckDBInstance.create(':memory:', {
      threads: String(opts.threads ?? 2),
      memory_limit: opts.memoryLimit ?? '1GB',
      temp_directory: opts.tempDir,
      // Results in file order: a page is the first matches, not any matches.
      preserve_insertion_order: 'true',
    });
    // The footer of each Parquet file parsed once, not per query.
    const db = await instance.connect();
    try {
      await db.run('LOAD parquet; SET GLOBAL parquet_metadata_cache = true');
    } finally {
      db.closeSync();
    }
    return new ColumnarEngine(instance);
  }

  async withConnection<T>(fn: (db: DuckDBConnection) => Promise<T>): Promise<T> {
    const db = await this.instance.connect();
    try {
      return await fn(db);
    } finally {
      db.closeSync();
    }
  }

  close(): void {
    this.instance.closeSync();
  }
}
