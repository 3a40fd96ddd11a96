/**
 * Stateless API replicas: two real API processes (cli/api-main.ts) on one real Redis and one real
 * MinIO, each with a V8 heap capped at 96 MiB and its own DATA_DIR. A node result of ~250 MB of
 * NDJSON — more than twice the heap cap — is uploaded through replica A and streamed back as a bundle,
 * queried and counted through replica B; then A is killed, and B and a replica started after it
 * still serve everything.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { after, before, describe, test } from 'node:test';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { TraceStore } from '../../state/src/trace-store.ts';
import { startApiProcess, type ApiProcess } from '../support/api-process.ts';
import { minioMissing, startTestMinio, type TestMinio } from '../support/minio.ts';
import { createOpenTrace, openEvents, putResult, resultArchive, uploadToken, writeLargeResult } from '../support/node-results.ts';
import { startTestRedis, type TestRedis } from '../support/redis.ts';

const skip = minioMissing();
const SECRET = 'replica-test-upload-token-secret-0123456789';
const EVENTS = 700_000;
let minio: TestMinio;
let redis: TestRedis;
let work: string;
const replicas: ApiProcess[] = [];

async function replica(): Promise<ApiProcess> {
  const p = await startApiProcess({
    heapMiB: 96,
    env: { ...minio.env('tracejob-replicas'), REDIS_URL: redis.url, UPLOAD_TOKEN_SECRET: SECRET, MAX_RESULT_BYTES: String(512 * 1024 * 1024), S3_TIMEOUT_SECONDS: '60' },
  });
  replicas.push(p);
  return p;
}

async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

/** Streams a bundle: per entry, its size and sha256 (nothing held whole). */
async function bundleDigests(url: string): Promise<Map<string, { bytes: number; sha256: string }>> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  const out = new Map<string, { bytes: number; sha256: string }>();
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    const h = createHash('sha256');
    let bytes = 0;
    stream.on('data', (c: unknown) => {
      bytes += (c as Buffer).length;
      h.update(c as Buffer);
    });
    stream.on('end', () => {
      out.set(header.name, { bytes, sha256: h.digest('hex') });
      next();
    });
  });
  await pipeline(Readable.fromWeb(res.body as WebReadableStream), createGunzip(), ex);
  return out;
}

describe('two API replicas on one Redis and one object store', { skip }, () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'tracejob-replicas-'));
    minio = await startTestMinio();
    redis = await startTestRedis();
  });
  after(async () => {
    for (const p of replicas) await p.close();
    await redis?.close();
    await minio?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('upload through A, read through B, kill A: nothing lost', async () => {
    const [a, b] = await Promise.all([replica(), replica()]);
    const traces = new TraceStore(redis.client(), 3600);
    const id = await createOpenTrace(traces);

    const big = await writeLargeResult(work, id, 'node-big', EVENTS);
    assert.ok(big.ndjsonBytes > 2 * 96 * 1024 * 1024, `the result (${big.ndjsonBytes} B) is larger than twice the replicas' heap cap`);
    const put = await fetch(`${a.url}/v1/traces/${id}/nodes/node-big/result`, {
      method: 'PUT',
      body: Readable.toWeb(createReadStream(big.archive)) as unknown as RequestInit['body'],
      duplex: 'half',
      headers: { 'content-type': 'application/gzip', 'content-length': String(statSync(big.archive).size), authorization: `Bearer ${uploadToken(SECRET, id, 'node-big')}` },
    } as RequestInit);
    assert.equal(put.status, 201, await put.text());

    // B never saw the upload: it answers from the object store.
    const digests = await bundleDigests(`${b.url}/v1/traces/${id}/bundle`);
    assert.deepEqual(digests.get('nodes/node-big/events.ndjson'), { bytes: big.ndjsonBytes, sha256: await sha256File(big.ndjsonFile) });
    const top = (await (await fetch(`${b.url}/v1/traces/${id}/top?field=pod`)).json()) as { items: { value: string; count: number }[] };
    assert.deepEqual(top.items, [
      { value: 'big-1', count: EVENTS / 2 },
      { value: 'big-2', count: EVENTS / 2 },
    ]);
    const page = (await (await fetch(`${b.url}/v1/traces/${id}/events?pod=big-2&comm=sh&limit=3`)).json()) as { items: Record<string, unknown>[] };
    assert.equal(page.items.length, 3);
    assert.ok(page.items.every((e) => e.pod === 'big-2' && e.comm === 'sh'));

    const small = await putResult(b.url, SECRET, id, 'node-small', await resultArchive(id, 'node-small', openEvents(30, { node: 'node-small' })));
    assert.equal(small.status, 201, await small.text());

    await a.kill('SIGKILL');
    assert.ok(!existsSync(join(a.dataDir, 'traces')), "A kept no result on its own disk");
    const c = await replica();
    for (const r of [b, c]) {
      const view = (await (await fetch(`${r.url}/v1/traces/${id}`)).json()) as { counts: { events: number } };
      assert.equal(view.counts.events, EVENTS + 30);
      const again = await bundleDigests(`${r.url}/v1/traces/${id}/bundle`);
      assert.equal(again.get('nodes/node-big/events.ndjson')?.bytes, big.ndjsonBytes);
      assert.equal(again.get('nodes/node-small/events.ndjson')?.bytes !== undefined, true);
      const smallPage = (await (await fetch(`${r.url}/v1/traces/${id}/events?node=node-small&limit=100`)).json()) as { items: unknown[] };
      assert.equal(smallPage.items.length, 30);
    }
  });
});
