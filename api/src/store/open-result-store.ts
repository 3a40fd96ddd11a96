/** The result store the configuration names (RESULT_STORE), with its columnar query engine. */
import { join } from 'node:path';
import type { Config } from '../../../state/src/config.ts';
import { ColumnarEngine } from './columnar-engine.ts';
import { FsResultStore } from './fs-result-store.ts';
import type { ResultStore } from './result-store.ts';
import { S3ResultStore } from './s3-result-store.ts';

export interface OpenedResultStore {
  results: ResultStore;
  engine: ColumnarEngine;
  close(): void;
}

export async function openResultStore(config: Pick<Config, 'dataDir' | 'resultStore' | 'queryCacheBytes'>): Promise<OpenedResultStore> {
  const engine = await ColumnarEngine.open({ tempDir: join(config.dataDir, 'tmp', 'duckdb') });
  try {
    const results: ResultStore =
      config.resultStore.kind === 's3'
        ? await S3ResultStore.open(config.resultStore, { dataDir: config.dataDir, engine, cacheBytes: config.queryCacheBytes })
        : new FsResultStore(config.dataDir, engine);
    return {
      results,
      engine,
      close() {
        results.close?.();
        engine.close();
      },
    };
  } catch (err) {
    engine.close();
    throw err;
  }
}
