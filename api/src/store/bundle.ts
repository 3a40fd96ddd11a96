/**
 * The trace bundle (tar.gz), assembled while it is downloaded: manifest.json, summary.json (merged
 * across nodes), and per node `nodes/<node>/events.ndjson` + `nodes/<node>/summary.json`; a
 * `profile` trace also has `profile.folded` (stacks merged across nodes) and `profile.svg` (its
 * flame graph). Events files are streamed from the store, never held in memory.
 *
 * The same stored results give the same bytes (entries dated by the trace, not the clock; gzip
 * is deterministic), named by a strong entity tag: a download cut mid-way resumes with a Range
 * from the bytes assembled again, once this process knows the bundle's length.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { join } from 'node:path';
import { pack as tarPack, type Pack } from 'tar-stream';
import type { NodeSummary } from '../../../contracts/index.ts';
import type { TraceRecord } from '../../../state/src/trace-store.ts';
import { mergeNodeSummaries } from './merge-summaries.ts';
import { mergedProfile, profileSvg } from './profile-stacks.ts';
import type { ResultStore, StoredEvents } from './result-store.ts';
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

/** Bumped when the bundle's bytes change for the same results (a new entry, another layout). */
const BUNDLE_FORMAT = 1;
/** Lengths of the bundles this process assembled whole, by entity tag (a Range needs the length). */
const knownLengths = new Map<string, number>();
const KNOWN_LENGTHS_MAX = 4096;

function rememberLength(etag: string, length: number): void {
  knownLengths.delete(etag);
  knownLengths.set(etag, length);
  if (knownLengths.size > KNOWN_LENGTHS_MAX) knownLengths.delete(knownLengths.keys().next().value!);
}

function addBuffer(pack: Pack, name: string, data: Buffer, mtime: Date): Promise<void> {
  return new Promise((resolve, reject) => pack.entry({ name, size: data.length, mode: 0o644, mtime }, data, (err) => (err ? reject(err) : resolve())));
}

interface BundleNode {
  node: string;
  summary?: NodeSummary;
  events?: StoredEvents;
}

export interface Bundle {
  /** Strong entity tag (quoted): the same results, the same tag and the same bytes. */
  etag: string;
  /** Bytes of the whole bundle, when this process has assembled it before. */
  length?: number;
  /** Bytes [start, end) of the bundle (all of it by default). Errors while assembling destroy the stream. */
  stream(start?: number, end?: number): Readable;
}

/** The trace's bundle as the store holds it now; its streams read these uploads, not later ones. */
export async function openBundle(store: ResultStore, record: TraceRecord): Promise<Bundle> {
  const nodes: BundleNode[] = await Promise.all(
    (await store.nodes(record.id)).map(async (node) => {
      const [summary, events] = await Promise.all([store.readSummary(record.id, node), store.events(record.id, node)]);
      return { node, ...(summary ? { summary } : {}), ...(events ? { events } : {}) };
    }),
  );
  const summaries = nodes.flatMap((n) => (n.summary ? [n.summary] : []));
  const manifest = Buffer.from(JSON.stringify(bundleManifest(record, summaries), null, 2) + '\n');
  const merged = Buffer.from(JSON.stringify(mergeNodeSummaries(record.id, summaries), null, 2) + '\n');
  const mtime = new Date(record.finishedAt ?? record.createdAt);
  const hash = createHash('sha256').update(`tracejob-bundle-${BUNDLE_FORMAT}\n`).update(manifest).update(merged);
  for (const n of nodes) hash.update(`${n.node}\n${n.events?.etag ?? '-'}\n${JSON.stringify(n.summary ?? null)}\n`);
  const etag = `"${hash.digest('base64url')}"`;
  const length = knownLengths.get(etag);

  function whole(): Readable {
    const pack = tarPack();
    const out = new PassThrough();
    void (async () => {
      await addBuffer(pack, 'manifest.json', manifest, mtime);
      await addBuffer(pack, 'summary.json', merged, mtime);
      for (const n of nodes) {
        if (n.events) {
          const entry = pack.entry({ name: `nodes/${n.node}/events.ndjson`, size: n.events.size, mode: 0o644, mtime });
          await pipeline(n.events.read(), entry);
        }
        if (n.summary) await addBuffer(pack, `nodes/${n.node}/summary.json`, Buffer.from(JSON.stringify(n.summary, null, 2) + '\n'), mtime);
      }
      if (record.spec.gadget === 'profile') {
        const profile = await mergedProfile(store, record.id, {});
        await addBuffer(pack, 'profile.folded', Buffer.from(profile.stacks.text()), mtime);
        await addBuffer(pack, 'profile.svg', Buffer.from(profileSvg(profile, `profile of trace ${record.id}`)), mtime);
      }
      pack.finalize();
    })().catch((err: unknown) => {
      pack.destroy(err as Error);
    });
    let total = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        total += chunk.length;
        done(null, chunk);
      },
      flush(done) {
        rememberLength(etag, total);
        done();
      },
    });
    pipeline(pack, createGzip(), counter, out).catch((err: unknown) => out.destroy(err as Error));
    return out;
  }

  return {
    etag,
    ...(length !== undefined ? { length } : {}),
    stream(start = 0, end?: number): Readable {
      const all = whole();
      if (start === 0 && end === undefined) return all;
      // The bytes before `start` are assembled again and dropped: the bundle is not kept anywhere.
      let at = 0;
      const slice = new Transform({
        transform(chunk: Buffer, _enc, done) {
          const from = Math.max(0, start - at);
          const to = end === undefined ? chunk.length : Math.min(chunk.length, end - at);
          at += chunk.length;
          done(null, to > from ? chunk.subarray(from, to) : undefined);
        },
      });
      pipeline(all, slice).catch((err: unknown) => slice.destroy(err as Error));
      return slice;
    },
  };
}

/** A tar.gz stream of the trace's bundle. Errors while assembling destroy the stream. */
export async function bundleStream(store: ResultStore, record: TraceRecord): Promise<Readable> {
  return (await openBundle(store, record)).stream();
}
