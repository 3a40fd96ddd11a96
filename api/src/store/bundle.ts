/**
 * The trace bundle (tar.gz), assembled while it is downloaded: manifest.json, summary.json (merged
 * across nodes), and per node `nodes/<node>/events.ndjson` + `nodes/<node>/summary.json`; a
 * `profile` trace also has `profile.folded` (stacks merged across nodes) and `profile.svg` (its
 * flame graph). Events files are streamed from the store, never held in memory.
 */
import { readFileSync } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { join } from 'node:path';
import { pack as tarPack, type Pack } from 'tar-stream';
import type { NodeSummary } from '../../../contracts/index.ts';
import type { TraceRecord } from '../../../state/src/trace-store.ts';
import { mergeNodeSummaries } from './merge-summaries.ts';
import { mergedProfile, profileSvg } from './profile-stacks.ts';
import type { ResultStore } from './result-store.ts';
import { findRepoRoot } from '../../../bpf/src/repo-paths.ts';

const packageVersion = (() => {
  try {
    return (JSON.parse(readFileSync(join(findRepoRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

export function bundleManifest(record: TraceRecord, summaries: readonly NodeSummary[]): Record<string, unknown> {
  const runnerVersions: Record<string, Record<string, string>> = {};
  for (const s of summaries) if (s.versions) runnerVersions[s.node] = s.versions;
  return {
    traceId: record.id,
    request: record.spec,
    status: record.status,
    error: record.error,
    timings: { createdAt: record.createdAt, startedAt: record.startedAt, finishedAt: record.finishedAt },
    nodes: record.nodes,
    versions: { tracejob: packageVersion, node: process.version, runners: runnerVersions },
  };
}

function addBuffer(pack: Pack, name: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => pack.entry({ name, size: data.length, mode: 0o644 }, data, (err) => (err ? reject(err) : resolve())));
}

/** A tar.gz stream of the trace's bundle. Errors while assembling destroy the stream. */
export function bundleStream(store: ResultStore, record: TraceRecord): Readable {
  const pack = tarPack();
  const out = new PassThrough();
  void (async () => {
    const nodes = await store.nodes(record.id);
    const summaries: NodeSummary[] = [];
    for (const node of nodes) {
      const s = await store.readSummary(record.id, node);
      if (s) summaries.push(s);
    }
    await addBuffer(pack, 'manifest.json', Buffer.from(JSON.stringify(bundleManifest(record, summaries), null, 2) + '\n'));
    await addBuffer(pack, 'summary.json', Buffer.from(JSON.stringify(mergeNodeSummaries(record.id, summaries), null, 2) + '\n'));
    for (const node of nodes) {
      const size = await store.eventsSize(record.id, node);
      if (size !== undefined) {
        const entry = pack.entry({ name: `nodes/${node}/events.ndjson`, size, mode: 0o644 });
        await pipeline(store.eventsStream(record.id, node), entry);
      }
      const s = summaries.find((x) => x.node === node);
      if (s) await addBuffer(pack, `nodes/${node}/summary.json`, Buffer.from(JSON.stringify(s, null, 2) + '\n'));
    }
    if (record.spec.gadget === 'profile') {
      const profile = await mergedProfile(store, record.id, {});
      await addBuffer(pack, 'profile.folded', Buffer.from(profile.stacks.text()));
      await addBuffer(pack, 'profile.svg', Buffer.from(profileSvg(profile, `profile of trace ${record.id}`)));
    }
    pack.finalize();
  })().catch((err: unknown) => {
    pack.destroy(err as Error);
  });
  pipeline(pack, createGzip(), out).catch((err: unknown) => out.destroy(err as Error));
  return out;
}
