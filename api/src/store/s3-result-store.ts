/**
 * Result store on an S3-API object store, shared by every API replica. Layout in the bucket:
 *
 *   traces/<id>/uploads/<node>/<uploadId>/{events.ndjson,summary.json,events.parquet,counts.parquet,columnar.json}
 *   traces/<id>/current/<node>.json      the pointer: which upload is the node's result, its summary and sizes
 *
 * An upload is received and checked on local disk, its objects are streamed to a fresh upload
 * prefix, and only then the pointer is written (one PUT: atomic). A reader goes through the
 * pointer, so an upload cut or failed mid-way is never visible; its objects are removed at once
 * where possible, else by the sweep. Columnar files are fetched once per upload into a local cache
 * for the query engine. A store that cannot be reached, or does not answer in time, is reported
 * as ResultStoreUnavailableError (503 with Retry-After).
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  S3Client,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { NodeSummary } from '../../../contracts/index.ts';
import type { ResultStoreConfig } from '../../../state/src/config.ts';
import { ResultStoreUnavailableError } from '../errors.ts';
import type { ColumnarEngine } from './columnar-engine.ts';
import { COLUMNAR_FILES, LAYOUT_VERSION, type ColumnarLayout } from './columnar-events.ts';
import { prepareUpload, type ColumnarTarget } from './node-ingest.ts';
import type { LocalColumnar, ResultStore, StoredEvents, StoredUpload } from './result-store.ts';
import { assertNodeName, assertTraceId } from './safe-names.ts';

export type S3StoreConfig = Extract<ResultStoreConfig, { kind: 's3' }>;

/** What `current/<node>.json` holds. */
interface NodePointer {
  uploadId: string;
  summary: NodeSummary;
  bytes: number;
  eventsBytes: number;
  columnar?: ColumnarLayout;
  storedAt: string;
}

/** Multipart parts: at most PART_BYTES × PARTS_IN_FLIGHT of an upload is in memory at once. */
const PART_BYTES = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;
/** Objects of an upload without a pointer are left alone this long (it may still be running). */
const UNREFERENCED_GRACE_MS = 60 * 60 * 1000;
const RETRY_AFTER_SECONDS = 5;
/** A listing this recent vouches for the pointers it names (it is made at the start of each request that reads them). */
const LISTING_FRESH_MS = 2000;
const POINTERS_KEPT = 10_000;

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET']);
const UNAVAILABLE_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'ServiceUnavailable', 'SlowDown', 'InternalError', 'XMinioServerNotInitialized', 'XMinioStorageFull']);

/** True for a failure that says the store is down, overloaded or too slow (retry later), not that the request was wrong. */
export function isStoreUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number }; cause?: unknown };
  if (e.name && UNAVAILABLE_NAMES.has(e.name)) return true;
  if (e.code && NETWORK_CODES.has(e.code)) return true;
  if ((e.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  if (typeof e.message === 'string' && /socket hang up|ECONNREFUSED|ECONNRESET|timed out|timeout/i.test(e.message)) return true;
  return e.cause !== undefined && e.cause !== err && isStoreUnavailable(e.cause);
}

function storeError(err: unknown, what: string): unknown {
  if (err instanceof ResultStoreUnavailableError) return err;
  if (isStoreUnavailable(err)) return new ResultStoreUnavailableError(`the result store is unavailable (${what}: ${(err as Error).message || (err as Error).name}); retry later`, RETRY_AFTER_SECONDS);
  return err;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

interface CacheEntry {
  dir: string;
  bytes: number;
  usedAt: number;
}

export class S3ResultStore implements ResultStore {
  private readonly fetching = new Map<string, Promise<string>>();
  /** Pointers read or written, with their ETags. */
  private readonly pointers = new Map<string, { etag: string; pointer: NodePointer }>();
  /** Pointer ETags of the latest listing of each trace, and when it was made. */
  private readonly listedPointers = new Map<string, { etag: string; at: number }>();
  private readonly cached = new Map<string, CacheEntry>();

  private constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    /** Local scratch: uploads being received, and the cache of columnar files. */
    private readonly dataDir: string,
    private readonly engine: ColumnarEngine | undefined,
    private readonly cacheBytes: number,
  ) {}

  /** Connects, creates the bucket when it is missing, and clears the local cache of an earlier run. */
  static async open(config: S3StoreConfig, opts: { dataDir: string; engine?: ColumnarEngine; cacheBytes: number }): Promise<S3ResultStore> {
    const s3 = new S3Client({
      region: config.region,
      forcePathStyle: config.forcePathStyle,
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      ...(config.credentials ? { credentials: config.credentials } : {}),
      // Fail fast and let the caller answer 503: the runner retries with backoff.
      maxAttempts: 2,
      // A store that accepts the connection and then says nothing (overloaded, paused) fails the
      // request after timeoutSeconds of silence; a large upload that keeps moving is not cut.
      requestHandler: { connectionTimeout: Math.min(5000, config.timeoutSeconds * 1000), socketTimeout: config.timeoutSeconds * 1000 },
    });
    const store = new S3ResultStore(s3, config.bucket, opts.dataDir, opts.engine, opts.cacheBytes);
    await store.ensureBucket();
    await rm(store.cacheDir(), { recursive: true, force: true });
    return store;
  }

  close(): void {
    this.s3.destroy();
  }

  private cacheDir(): string {
    return join(this.dataDir, 'cache', 'columnar');
  }

  private async ensureBucket(): Promise<void> {
    try {
      await this.s3.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return;
    } catch (err) {
      if (!isNotFound(err)) throw storeError(err, `checking bucket ${this.bucket}`);
    }
    try {
      await this.s3.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw storeError(err, `creating bucket ${this.bucket}`);
    }
    // Multipart uploads of an API process that died mid-upload are not left forever (best effort:
    // not every S3-compatible server has lifecycle rules).
    await this.s3
      .send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket: this.bucket,
          LifecycleConfiguration: { Rules: [{ ID: 'tracejob-abort-incomplete-uploads', Status: 'Enabled', Filter: { Prefix: 'traces/' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }] },
        }),
      )
      .catch(() => undefined);
  }

  private tracePrefix(traceId: string): string {
    return `traces/${assertTraceId(traceId)}/`;
  }

  private pointerKey(traceId: string, node: string): string {
    return `${this.tracePrefix(traceId)}current/${assertNodeName(node)}.json`;
  }

  private uploadPrefix(traceId: string, node: string, uploadId: string): string {
    return `${this.tracePrefix(traceId)}uploads/${assertNodeName(node)}/${uploadId}/`;
  }

  private async putFile(key: string, file: string, contentType: string): Promise<void> {
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key: key, Body: createReadStream(file), ContentType: contentType },
      partSize: PART_BYTES,
      queueSize: PARTS_IN_FLIGHT,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > POINTERS_KEPT) map.delete(map.keys().next().value!);
  }

  /**
   * The node's pointer. A listing of the trace's pointers moments ago gives each one's ETag; when
   * it is the ETag of the pointer read before, that one is current and no request is made (a
   * query is then one LIST, not one GET per node as well).
   */
  private async pointer(traceId: string, node: string): Promise<NodePointer | undefined> {
    const key = this.pointerKey(traceId, node);
    const listed = this.listedPointers.get(key);
    const known = this.pointers.get(key);
    if (listed && known && listed.etag === known.etag && Date.now() - listed.at < LISTING_FRESH_MS) return known.pointer;
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const pointer = JSON.parse(await out.Body!.transformToString('utf8')) as NodePointer;
      if (out.ETag) this.remember(this.pointers, key, { etag: out.ETag, pointer });
      return pointer;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw storeError(err, `reading the result of node ${node}`);
    }
  }

  async saveNodeUpload(traceId: string, node: string, body: Readable, maxBytes: number, columnar?: ColumnarTarget): Promise<StoredUpload> {
    const work = join(this.dataDir, 'tmp', `upload-${randomUUID()}`);
    const uploadId = randomUUID();
    const prefix = this.uploadPrefix(traceId, node, uploadId);
    let sent = false;
    try {
      // The checked NDJSON and summary go to the store while the columnar copy is written.
      const raw = async (dir: string) => {
        sent = true;
        await this.putFile(prefix + 'events.ndjson', join(dir, 'events.ndjson'), 'application/x-ndjson');
        await this.putFile(prefix + 'summary.json', join(dir, 'summary.json'), 'application/json');
      };
      const prepared = await prepareUpload(work, traceId, node, body, maxBytes, this.engine, columnar, raw);
      if (prepared.columnar) {
        for (const name of COLUMNAR_FILES) await this.putFile(prefix + name, join(prepared.dir, name), name.endsWith('.json') ? 'application/json' : name.endsWith('.parquet') ? 'application/vnd.apache.parquet' : 'application/octet-stream');
      }
      const previous = await this.pointer(traceId, node);
      const pointer: NodePointer = {
        uploadId,
        summary: prepared.summary,
        bytes: prepared.bytes,
        eventsBytes: prepared.eventsBytes,
        ...(prepared.columnar ? { columnar: prepared.columnar } : {}),
        storedAt: new Date().toISOString(),
      };
      const put = await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.pointerKey(traceId, node), Body: JSON.stringify(pointer), ContentType: 'application/json' }));
      if (put.ETag) this.remember(this.pointers, this.pointerKey(traceId, node), { etag: put.ETag, pointer });
      sent = false;
      if (previous && previous.uploadId !== uploadId) {
        await this.deletePrefix(this.uploadPrefix(traceId, node, previous.uploadId)).catch(() => undefined);
      }
      return { summary: prepared.summary, bytes: prepared.bytes, eventsBytes: prepared.eventsBytes };
    } catch (err) {
      // Never visible without its pointer; remove what did arrive (the sweep gets it otherwise).
      if (sent) await this.deletePrefix(prefix).catch(() => undefined);
      throw storeError(err, `storing the result of node ${node}`);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  private async list(prefix: string, delimiter?: string): Promise<{ keys: { key: string; modified?: Date; etag?: string }[]; prefixes: string[] }> {
    const keys: { key: string; modified?: Date; etag?: string }[] = [];
    const prefixes: string[] = [];
    let token: string | undefined;
    do {
      let out: ListObjectsV2CommandOutput;
      try {
        out = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token, ...(delimiter ? { Delimiter: delimiter } : {}) }));
      } catch (err) {
        throw storeError(err, 'listing results');
      }
      for (const o of out.Contents ?? []) if (o.Key) keys.push({ key: o.Key, ...(o.LastModified ? { modified: o.LastModified } : {}), ...(o.ETag ? { etag: o.ETag } : {}) });
      for (const p of out.CommonPrefixes ?? []) if (p.Prefix) prefixes.push(p.Prefix);
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return { keys, prefixes };
  }

  private async deleteKeys(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      try {
        await this.s3.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }));
      } catch (err) {
        throw storeError(err, 'deleting results');
      }
    }
  }

  private async deletePrefix(prefix: string): Promise<void> {
    await this.deleteKeys((await this.list(prefix)).keys.map((k) => k.key));
  }

  async nodes(traceId: string): Promise<string[]> {
    const prefix = `${this.tracePrefix(traceId)}current/`;
    const { keys } = await this.list(prefix, '/');
    const at = Date.now();
    for (const k of keys) if (k.etag) this.remember(this.listedPointers, k.key, { etag: k.etag, at });
    return keys
      .map((k) => k.key.slice(prefix.length))
      .filter((k) => k.endsWith('.json'))
      .map((k) => k.slice(0, -'.json'.length))
      .sort();
  }

  async readSummary(traceId: string, node: string): Promise<NodeSummary | undefined> {
    return (await this.pointer(traceId, node))?.summary;
  }

  async eventsSize(traceId: string, node: string): Promise<number | undefined> {
    return (await this.pointer(traceId, node))?.eventsBytes;
  }

  eventsStream(traceId: string, node: string, start = 0): Readable {
    const out = new PassThrough();
    void (async () => {
      const p = await this.pointer(traceId, node);
      if (!p) throw Object.assign(new Error(`no result for node ${node}`), { code: 'ENOENT' });
      if (start >= p.eventsBytes) {
        out.end();
        return;
      }
      const res = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.uploadPrefix(traceId, node, p.uploadId) + 'events.ndjson', ...(start > 0 ? { Range: `bytes=${start}-` } : {}) }),
      );
      await pipeline(res.Body as Readable, out);
    })().catch((err: unknown) => out.destroy(storeError(err, `reading the events of node ${node}`) as Error));
    return out;
  }

  /** The events of the upload `p` names: reads go to that upload's object, whatever replaces it. */
  private storedEvents(traceId: string, node: string, p: NodePointer): StoredEvents {
    const key = this.uploadPrefix(traceId, node, p.uploadId) + 'events.ndjson';
    return {
      size: p.eventsBytes,
      etag: `"${p.uploadId}"`,
      read: (start = 0, end?: number): Readable => {
        const out = new PassThrough();
        const last = (end ?? p.eventsBytes) - 1;
        if (last < start) return out.end() as PassThrough;
        void (async () => {
          const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${last}` }));
          await pipeline(res.Body as Readable, out);
        })().catch((err: unknown) => {
          // A replaced upload's objects are deleted: its reader fails, it never reads the new one.
          const gone = isNotFound(err) ? Object.assign(new Error(`the result of node ${node} was replaced while it was read`), { code: 'ERESULTREPLACED' }) : undefined;
          out.destroy((gone ?? storeError(err, `reading the events of node ${node}`)) as Error);
        });
        return out;
      },
    };
  }

  async events(traceId: string, node: string): Promise<StoredEvents | undefined> {
    const p = await this.pointer(traceId, node);
    return p ? this.storedEvents(traceId, node, p) : undefined;
  }

  async columnar(traceId: string, node: string): Promise<LocalColumnar | undefined> {
    const p = await this.pointer(traceId, node);
    if (!p?.columnar || p.columnar.version !== LAYOUT_VERSION) return undefined;
    const events = this.storedEvents(traceId, node, p);
    const key = `${traceId}/${node}/${p.uploadId}`;
    const hit = this.cached.get(key);
    if (hit) {
      hit.usedAt = Date.now();
      return { dir: hit.dir, layout: p.columnar, events };
    }
    let pending = this.fetching.get(key);
    if (!pending) {
      pending = this.fetchColumnar(traceId, node, p.uploadId, key).finally(() => this.fetching.delete(key));
      this.fetching.set(key, pending);
    }
    return { dir: await pending, layout: p.columnar, events };
  }

  /** Downloads a node's columnar files into the cache (whole or not at all), then trims the cache. */
  private async fetchColumnar(traceId: string, node: string, uploadId: string, key: string): Promise<string> {
    const dir = join(this.cacheDir(), traceId, node, uploadId);
    const tmp = `${dir}.part-${randomUUID()}`;
    await mkdir(tmp, { recursive: true });
    try {
      let bytes = 0;
      for (const name of COLUMNAR_FILES) {
        const res = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.uploadPrefix(traceId, node, uploadId) + name }));
        await pipeline(res.Body as Readable, createWriteStream(join(tmp, name)));
        bytes += (await stat(join(tmp, name))).size;
      }
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
      this.cached.set(key, { dir, bytes, usedAt: Date.now() });
      await this.trimCache(key);
      return dir;
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw storeError(err, `fetching the columnar copy of node ${node}`);
    }
  }

  private async trimCache(keep: string): Promise<void> {
    let total = [...this.cached.values()].reduce((n, e) => n + e.bytes, 0);
    const oldest = [...this.cached.entries()].filter(([k]) => k !== keep).sort((a, b) => a[1].usedAt - b[1].usedAt);
    for (const [k, e] of oldest) {
      if (total <= this.cacheBytes) break;
      this.cached.delete(k);
      total -= e.bytes;
      await rm(e.dir, { recursive: true, force: true });
    }
  }

  private async dropCached(traceId: string): Promise<void> {
    for (const k of [...this.cached.keys()]) if (k.startsWith(`${traceId}/`)) this.cached.delete(k);
    await rm(join(this.cacheDir(), assertTraceId(traceId)), { recursive: true, force: true });
  }

  async deleteTrace(traceId: string): Promise<void> {
    for (const map of [this.pointers, this.listedPointers]) for (const k of [...map.keys()]) if (k.startsWith(this.tracePrefix(traceId))) map.delete(k);
    // Pointers first: from then on no reader finds the result, even if deleting the rest fails.
    await this.deletePrefix(`${this.tracePrefix(traceId)}current/`);
    await this.deletePrefix(this.tracePrefix(traceId));
    await this.dropCached(traceId);
  }

  async traceIds(): Promise<string[]> {
    return (await this.list('traces/', '/')).prefixes.map((p) => p.slice('traces/'.length, -1)).filter((n) => /^[0-9a-f-]{36}$/.test(n));
  }

  /** Removes uploads no pointer names (cut or failed mid-way, or replaced) once they are older than the grace period. */
  async sweepUnreferenced(traceId: string, now = Date.now()): Promise<number> {
    const { keys } = await this.list(this.tracePrefix(traceId));
    const current = new Set<string>();
    for (const node of await this.nodes(traceId)) {
      const p = await this.pointer(traceId, node);
      if (p) current.add(`${node}/${p.uploadId}`);
    }
    const uploads = `${this.tracePrefix(traceId)}uploads/`;
    const stale = keys.filter((k) => {
      if (!k.key.startsWith(uploads)) return false;
      const [node, uploadId] = k.key.slice(uploads.length).split('/');
      return !current.has(`${node}/${uploadId}`) && now - (k.modified?.getTime() ?? now) > UNREFERENCED_GRACE_MS;
    });
    await this.deleteKeys(stale.map((k) => k.key));
    return stale.length;
  }
}
