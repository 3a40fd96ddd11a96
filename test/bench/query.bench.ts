/**
 * Query benchmark. Builds a trace of N events (default 10 M) shaped like the `open` gadget's
 * (its catalogue fields, exact decimal-string timestamps) across 4 nodes and 50 pods, then in the
 * same run, for each result store — the filesystem (all-in-one) and S3 on a real MinIO started
 * here (what Kubernetes deployments use):
 *  - ingest, node by node in the same minutes: writing its events.ndjson (JSON.stringify per event,
 *    as the runner's event writer does: the reference) vs. that plus the API's real ingest of the
 *    node's upload (saveNodeUpload: receive the tar.gz, unpack, write the columnar copy, store —
 *    for S3 upload every object and the pointer). The runner's tar.gz (packMs) is not counted;
 *  - storage: bytes of NDJSON vs. the columnar files;
 *  - queries through the routes' functions (event-pages.ts): the NDJSON scan (what the API did
 *    before the columnar copy, the reference) vs. the columnar path — filter by pod, filter by a
 *    rare field value, top-N by field (all events, and one pod), first page. For S3 the first
 *    columnar query also fetches the columnar files into the local cache (coldMs).
 * One JSON line per measurement: `{store, query, referenceMs, ms, ratio}` (ratio = referenceMs / ms).
 * Targets: every query ≤ 100 ms and ≥ 20× faster than the scan; ingest ≤ 2× the NDJSON writing.
 * Usage: npm run bench:query -- [--json] [--events 10000000] [--repeat 5] [--store fs|s3|both] [--keep DIR]
 * (--keep leaves the stores' files in DIR.)
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { isDeepStrictEqual } from 'node:util';
import { resultArchiveStream } from '../../job-image/src/upload/result-archive.ts';
import { loadGadgetCatalogue } from '../../api/src/gadget-catalogue.ts';
import { ColumnarEngine } from '../../api/src/store/columnar-engine.ts';
import { COLUMNAR_FILES, columnsFor } from '../../api/src/store/columnar-events.ts';
import { eventsPage, eventsTop } from '../../api/src/store/event-pages.ts';
import { parseEventQuery } from '../../api/src/store/event-query.ts';
import { FsResultStore } from '../../api/src/store/fs-result-store.ts';
import { S3ResultStore } from '../../api/src/store/s3-result-store.ts';
import type { ResultStore } from '../../api/src/store/result-store.ts';
import { minioMissing, startTestMinio, type TestMinio } from '../support/minio.ts';

const argv = process.argv.slice(2);
const json = argv.includes('--json');
const arg = (name: string, fallback: string) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const totalEvents = Number(arg('--events', '10000000'));
const repeat = Number(arg('--repeat', '5'));
const keep = arg('--keep', '');
const storeArg = arg('--store', 'both');
const stores = storeArg === 'both' ? ['fs', 's3'] : [storeArg];
if (!stores.every((k) => k === 'fs' || k === 's3')) throw new Error(`--store: fs, s3 or both, not ${storeArg}`);
const NODES = 4;
const PODS = 50;
const log = (...a: unknown[]) => {
  if (!json) console.error(...a);
};
const out = (o: Record<string, unknown>) => console.log(JSON.stringify(o));

const COMMS = ['nginx', 'python3', 'node', 'java', 'postgres', 'redis-server', 'sh', 'bash', 'curl', 'envoy', 'containerd-shim', 'runc', 'coredns', 'kubelet', 'php-fpm', 'ruby', 'go-app', 'sidecar', 'logrotate', 'cron'];
const ERRORS: [number, string][] = [
  [2, 'ENOENT'],
  [13, 'EACCES'],
  [24, 'EMFILE'],
];

/** Deterministic pseudo-random numbers (xorshift), so every run writes the same trace. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** 5000 paths; a Zipf-like pick (a few hot files, a long tail). */
const PATHS = Array.from({ length: 5000 }, (_, i) => (i % 5 === 0 ? `/usr/lib/x86_64-linux-gnu/lib${i}.so.${i % 9}` : i % 5 === 1 ? `/proc/${1000 + i}/status` : i % 5 === 2 ? `/etc/app/conf.d/${i}.yaml` : i % 5 === 3 ? `/var/lib/app/data/${i}.db` : `/tmp/cache-${i}`));
const RARE_PATH = PATHS[4999]!;

/** Writes one node's events.ndjson the way the runner does (JSON.stringify per event); returns ms. */
async function writeNodeNdjson(file: string, nodeIndex: number, count: number): Promise<number> {
  const rand = rng(nodeIndex + 7);
  const pods = Array.from({ length: PODS }, (_, p) => p).filter((p) => p % NODES === nodeIndex);
  const stream = createWriteStream(file);
  let ts = 1_764_600_000_000_000_000n + BigInt(nodeIndex);
  const started = performance.now();
  let buf = '';
  for (let i = 0; i < count; i++) {
    ts += BigInt(200 + Math.floor(rand() * 2000));
    const pod = pods[Math.floor(rand() * pods.length)]!;
    const pathIndex = Math.min(PATHS.length - 1, Math.floor(Math.pow(rand(), 3) * PATHS.length));
    const failed = rand() < 0.1;
    const [errno, error] = ERRORS[Math.floor(rand() * ERRORS.length)]!;
    const pid = 1000 + pod * 40 + Math.floor(rand() * 40);
    const event: Record<string, unknown> = {
      gadget: 'open',
      timestamp: ts.toString(),
      pid,
      tid: pid,
      ppid: 1,
      uid: 0,
      comm: COMMS[(pod + Math.floor(rand() * 3)) % COMMS.length],
      cgroupId: 10_000 + pod,
      syscall: 'openat',
      path: pathIndex === PATHS.length - 1 && rand() > 0.05 ? PATHS[0] : PATHS[pathIndex],
      pathTruncated: false,
      dirfd: -100,
      flags: 524288,
      flagNames: 'O_RDONLY|O_CLOEXEC',
      mode: 0,
      ret: failed ? -errno : 3 + (i % 60),
      ...(failed ? { errno, error } : { fd: 3 + (i % 60) }),
      node: `node-${nodeIndex}`,
      namespace: 'shop',
      pod: `web-${pod}`,
      container: 'app',
    };
    buf += JSON.stringify(event) + '\n';
    if (buf.length > 1 << 20) {
      if (!stream.write(buf)) await once(stream, 'drain');
      buf = '';
    }
  }
  stream.end(buf);
  await once(stream, 'finish');
  return performance.now() - started;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

/** Median of `repeat` runs after one warm-up. */
async function median(fn: () => Promise<unknown>, runs = repeat): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push((await timed(fn)).ms);
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function openStore(kind: string, dataDir: string, engine: ColumnarEngine, minio: TestMinio | undefined): Promise<ResultStore> {
  if (kind === 'fs') return new FsResultStore(join(dataDir, 'fs'), engine);
  return S3ResultStore.open(
    { kind: 's3', endpoint: minio!.endpoint, bucket: 'tracejob-bench', region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: minio!.accessKeyId, secretAccessKey: minio!.secretAccessKey }, timeoutSeconds: 60 },
    { dataDir: join(dataDir, 's3'), engine, cacheBytes: 4 * 1024 * 1024 * 1024 },
  );
}

async function main(): Promise<void> {
  const dataDir = keep || mkdtempSync(join(tmpdir(), 'tracejob-query-bench-'));
  mkdirSync(dataDir, { recursive: true });
  const traceId = randomUUID();
  const gadgets = await loadGadgetCatalogue();
  const columns = columnsFor(gadgets.get('open')!.fields);
  const engine = await ColumnarEngine.open({ tempDir: join(dataDir, 'tmp', 'duckdb') });
  let minio: TestMinio | undefined;
  const opened: { kind: string; store: ResultStore; ingestMs: number; columnarBytes: number }[] = [];
  try {
    if (stores.includes('s3')) {
      const missing = minioMissing();
      if (missing) throw new Error(missing);
      minio = await startTestMinio();
    }
    for (const kind of stores) {
      rmSync(join(dataDir, kind), { recursive: true, force: true });
      opened.push({ kind, store: await openStore(kind, dataDir, engine, minio), ingestMs: 0, columnarBytes: 0 });
    }
    log(`building ${totalEvents} events over ${NODES} nodes and ${PODS} pods in ${dataDir}`);
    // Node by node, in the same minutes: the runner's NDJSON (the reference), its tar.gz, then
    // each store's ingest of that upload.
    let ndjsonMs = 0;
    let ndjsonBytes = 0;
    let packMs = 0;
    for (let n = 0; n < NODES; n++) {
      const node = `node-${n}`;
      const count = Math.floor(totalEvents / NODES) + (n < totalEvents % NODES ? 1 : 0);
      const dir = join(dataDir, 'src', node);
      mkdirSync(dir, { recursive: true });
      ndjsonMs += await writeNodeNdjson(join(dir, 'events.ndjson'), n, count);
      ndjsonBytes += statSync(join(dir, 'events.ndjson')).size;
      writeFileSync(join(dir, 'summary.json'), JSON.stringify({ traceId, node, events: count, lostEvents: 0 }));
      const archive = join(dir, 'upload.tar.gz');
      packMs += (await timed(() => pipeline(resultArchiveStream([join(dir, 'events.ndjson'), join(dir, 'summary.json')]), createWriteStream(archive)))).ms;
      for (const o of opened) {
        const saved = await timed(() => o.store.saveNodeUpload(traceId, node, createReadStream(archive), 4 * 1024 * 1024 * 1024, { gadget: 'open', columns }));
        o.ingestMs += saved.ms;
        if (saved.value.summary.events !== count) throw new Error(`${node}: stored ${saved.value.summary.events} events, built ${count}`);
        const local = await o.store.columnar(traceId, node);
        if (local?.layout.rows !== count) throw new Error(`${node}: columnar copy has ${local?.layout.rows} rows, NDJSON ${count}`);
        for (const f of COLUMNAR_FILES) o.columnarBytes += statSync(join(local.dir, f)).size;
        log(`${o.kind} ${node}: stored in ${(saved.ms / 1000).toFixed(1)} s`);
      }
      rmSync(dir, { recursive: true, force: true });
      log(`${node}: ${count} events, NDJSON ${(ndjsonMs / 1000).toFixed(1)} s so far`);
    }
    for (const o of opened) {
      out({ store: o.kind, query: 'ingest', events: totalEvents, referenceMs: Math.round(ndjsonMs), ms: Math.round(ndjsonMs + o.ingestMs), ingestMs: Math.round(o.ingestMs), packMs: Math.round(packMs), ratio: +((ndjsonMs + o.ingestMs) / ndjsonMs).toFixed(2), note: 'ms = NDJSON writing + saveNodeUpload (receive, unpack, columnar copy, store); referenceMs = NDJSON writing alone; packMs = the runner\'s tar.gz, not counted; target ratio ≤ 2' });
      out({ store: o.kind, query: 'storage', ndjsonBytes, columnarBytes: o.columnarBytes, ratio: +(ndjsonBytes / o.columnarBytes).toFixed(1) });
    }
    for (const o of opened) await queries(o.kind, o.store, engine, traceId, columns);
    out({ query: 'machine', loadavg1: +loadavg()[0]!.toFixed(1), cores: cpus().length });
  } finally {
    for (const o of opened) o.store.close?.();
    engine.close();
    await minio?.close();
    rmSync(keep ? join(dataDir, 'src') : dataDir, { recursive: true, force: true });
  }
}

async function queries(kind: string, store: ResultStore, engine: ColumnarEngine, traceId: string, columns: ReturnType<typeof columnsFor>): Promise<void> {
  const q = (params: Record<string, string>, reserved: string[] = []) => parseEventQuery(params, columns, reserved);
  // A pod of the last node: the scan reads the other nodes' files before it finds any.
  let lastPod = PODS - 1;
  while (lastPod % NODES !== NODES - 1) lastPod -= 1;
  const lastNodePod = `web-${lastPod}`;
  const cases: { query: string; run: (withEngine: boolean) => Promise<unknown> }[] = [
    { query: `filter by pod (${lastNodePod}, page of 100)`, run: (e) => eventsPage(store, e ? engine : undefined, traceId, q({ pod: lastNodePod }), 100) },
    { query: 'filter by field value (path, rare, page of 100)', run: (e) => eventsPage(store, e ? engine : undefined, traceId, q({ path: RARE_PATH }), 100) },
    { query: 'top-N by field (path, top 10)', run: (e) => eventsTop(store, e ? engine : undefined, traceId, q({}), 'path', 10) },
    { query: `top-N by field for a pod (path, ${lastNodePod})`, run: (e) => eventsTop(store, e ? engine : undefined, traceId, q({ pod: lastNodePod }), 'path', 10) },
    { query: 'first page (1000 events)', run: (e) => eventsPage(store, e ? engine : undefined, traceId, q({}), 1000) },
  ];
  for (const [i, c] of cases.entries()) {
    const reference = await timed(() => c.run(false));
    const cold = await timed(() => c.run(true));
    const items = (v: unknown) => (Array.isArray(v) ? v : (v as { items: string[] }).items.map((t) => JSON.parse(t) as unknown));
    const same = isDeepStrictEqual(items(reference.value), items(cold.value));
    const ms = await median(() => c.run(true));
    out({ store: kind, query: c.query, referenceMs: Math.round(reference.ms), ms: +ms.toFixed(1), ratio: +(reference.ms / ms).toFixed(1), sameAnswer: same, ...(kind === 's3' && i === 0 ? { coldMs: Math.round(cold.ms) } : {}) });
  }
}

await main();
