/**
 * Query benchmark. Builds a trace of N events (default 10 M) shaped like the `open` gadget's
 * (its catalogue fields, exact decimal-string timestamps) across 4 nodes and 50 pods in a
 * filesystem result store, then in the same run:
 *  - ingest: writing each node's events.ndjson (JSON.stringify per event, as the runner's event
 *    writer does: the reference) vs. writing it plus the columnar copy (writeColumnar, the work
 *    ingest adds);
 *  - storage: bytes of NDJSON vs. the columnar files;
 *  - queries through the routes' functions (event-pages.ts): the NDJSON scan (what the API did
 *    before the columnar copy, the reference) vs. the columnar path — filter by pod, filter by a
 *    field value, top-N by field (all events, and one pod), first page.
 * One JSON line per measurement: `{query, referenceMs, ms, ratio}` (ratio = referenceMs / ms).
 * Targets: every query ≤ 100 ms and ≥ 20× faster than the scan; ingest ≤ 2× the NDJSON writing.
 * Usage: npm run bench:query -- [--json] [--events 10000000] [--repeat 5] [--keep DIR]
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { isDeepStrictEqual } from 'node:util';
import { loadGadgetCatalogue } from '../../api/src/gadget-catalogue.ts';
import { ColumnarEngine } from '../../api/src/store/columnar-engine.ts';
import { columnsFor, writeColumnar } from '../../api/src/store/columnar-events.ts';
import { eventsPage, eventsTop } from '../../api/src/store/event-pages.ts';
import { parseEventQuery } from '../../api/src/store/event-query.ts';
import { FsResultStore } from '../../api/src/store/fs-result-store.ts';

const argv = process.argv.slice(2);
const json = argv.includes('--json');
const arg = (name: string, fallback: string) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const totalEvents = Number(arg('--events', '10000000'));
const repeat = Number(arg('--repeat', '5'));
const keep = arg('--keep', '');
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

async function main(): Promise<void> {
  const dataDir = keep || mkdtempSync(join(tmpdir(), 'tracejob-query-bench-'));
  const traceId = randomUUID();
  const gadgets = await loadGadgetCatalogue();
  const columns = columnsFor(gadgets.get('open')!.fields);
  const engine = await ColumnarEngine.open({ tempDir: join(dataDir, 'tmp', 'duckdb') });
  try {
    log(`building ${totalEvents} events over ${NODES} nodes and ${PODS} pods in ${dataDir}`);
    let ndjsonMs = 0;
    let columnarMs = 0;
    let ndjsonBytes = 0;
    let columnarBytes = 0;
    for (let n = 0; n < NODES; n++) {
      const count = Math.floor(totalEvents / NODES) + (n < totalEvents % NODES ? 1 : 0);
      const dir = join(dataDir, 'traces', traceId, 'nodes', `node-${n}`);
      mkdirSync(dir, { recursive: true });
      ndjsonMs += await writeNodeNdjson(join(dir, 'events.ndjson'), n, count);
      writeFileSync(join(dir, 'summary.json'), JSON.stringify({ traceId, node: `node-${n}`, events: count, lostEvents: 0 }));
      const conv = await timed(() => writeColumnar(engine, join(dir, 'events.ndjson'), dir, 'open', columns));
      columnarMs += conv.ms;
      if (conv.value.rows !== count) throw new Error(`node-${n}: columnar copy has ${conv.value.rows} rows, NDJSON ${count}`);
      ndjsonBytes += statSync(join(dir, 'events.ndjson')).size;
      for (const f of ['events.parquet', 'counts.parquet', 'columnar.json']) columnarBytes += statSync(join(dir, f)).size;
      log(`node-${n}: ${count} events, NDJSON ${(ndjsonMs / 1000).toFixed(1)} s so far, columnar ${(columnarMs / 1000).toFixed(1)} s so far`);
    }
    out({ query: 'ingest', events: totalEvents, referenceMs: Math.round(ndjsonMs), ms: Math.round(ndjsonMs + columnarMs), columnarMs: Math.round(columnarMs), ratio: +((ndjsonMs + columnarMs) / ndjsonMs).toFixed(2), note: 'ms = NDJSON + columnar copy; referenceMs = NDJSON alone; target ratio ≤ 2' });
    out({ query: 'storage', ndjsonBytes, columnarBytes, ratio: +(ndjsonBytes / columnarBytes).toFixed(1) });

    const store = new FsResultStore(dataDir, engine);
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
    for (const c of cases) {
      const reference = await timed(() => c.run(false));
      const answer = await c.run(true);
      const items = (v: unknown) => (Array.isArray(v) ? v : (v as { items: string[] }).items.map((t) => JSON.parse(t) as unknown));
      const same = isDeepStrictEqual(items(reference.value), items(answer));
      const ms = await median(() => c.run(true));
      out({ query: c.query, referenceMs: Math.round(reference.ms), ms: +ms.toFixed(1), ratio: +(reference.ms / ms).toFixed(1), sameAnswer: same });
    }
    out({ query: 'machine', loadavg1: +loadavg()[0]!.toFixed(1), cores: cpus().length });
  } finally {
    engine.close();
    if (!keep) rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
