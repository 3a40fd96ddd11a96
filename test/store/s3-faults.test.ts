/**
 * Faults of the object store, against a real MinIO that the test stops, pauses (SIGSTOP: it
 * accepts connections and never answers) and restarts: uploads answered 503 with Retry-After, the
 * real runner uploader retrying until the store is back with its files kept, an upload cut
 * mid-way leaving nothing visible, a bundle download cut mid-way and retried, the store killed and
 * restarted in the middle of a multipart upload, and the store killed after a download's headers:
 * the client sees an error (never a clean short body) and resumes (Range + If-Range) once it is back.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { uploadResult } from '../../job-image/src/upload/result-uploader.ts';
import { ApiClient } from '../../cli/api-client.ts';
import { downloadToFile } from '../../cli/resumable-download.ts';
import { startAppFixture, type AppFixture } from '../support/app-fixture.ts';
import { minioMissing, startTestMinio, type TestMinio } from '../support/minio.ts';
import { createOpenTrace, ndjson, nodeSummary, openEvents, putResult, resultArchive, uploadToken, writeLargeResult } from '../support/node-results.ts';
import { untarGzText } from '../support/tar.ts';

const skip = minioMissing();
const BUCKET = 'tracejob-faults';
let minio: TestMinio;
let fx: AppFixture;
let base: string;
let s3: S3Client;
let work: string;

async function objectKeys(prefix: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!);
}

async function refusedUploads(): Promise<number> {
  const text = (await fx.app.inject({ url: '/metrics' })).body;
  return Number(/tracejob_uploads_total\{outcome="refused"\} (\d+)/.exec(text)?.[1] ?? 0);
}

/** Runs `fn` with MinIO stopped, and starts it again whatever happens. */
async function withStoreDown<T>(fn: () => Promise<T>): Promise<T> {
  await minio.stop();
  try {
    return await fn();
  } finally {
    await minio.start();
  }
}

/**
 * Downloads a trace's bundle with the CLI's downloader while MinIO is killed as soon as 64 KiB of it
 * are on disk, and started again at the first retry; `onRetry` hears each retry's reason.
 */
async function downloadBundleKillingStore(
  id: string,
  file: string,
  onRetry?: (reason: string) => void,
): Promise<{ result: Awaited<ReturnType<typeof downloadToFile>>; killed: boolean }> {
  let restarted: Promise<void> | undefined;
  let killed: Promise<void> | undefined;
  const watcher = setInterval(() => {
    // Kill the store as soon as part of the bundle is on disk.
    if (!killed && existsSync(`${file}.partial`) && statSync(`${file}.partial`).size > 64 * 1024) killed = minio.kill();
  }, 5);
  try {
    const result = await downloadToFile(new ApiClient({ server: base }), `/v1/traces/${id}/bundle`, file, {
      accept: 'application/gzip',
      attempts: 40,
      backoffMs: 100,
      onRetry: (info) => {
        onRetry?.(`${info.have}: ${info.reason}`);
        restarted ??= (killed ?? Promise.resolve()).then(() => minio.start());
      },
    });
    return { result, killed: killed !== undefined };
  } finally {
    clearInterval(watcher);
    await killed;
    await restarted;
  }
}

describe('object store faults (MinIO stopped, paused, restarted)', { skip }, () => {
  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'tracejob-s3-faults-'));
    minio = await startTestMinio();
    fx = await startAppFixture({ ...minio.env(BUCKET), S3_TIMEOUT_SECONDS: '2', MAX_RESULT_BYTES: String(256 * 1024 * 1024) });
    await fx.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = fx.app.server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    s3 = new S3Client({ endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey }, maxAttempts: 1 });
  });
  after(async () => {
    minio?.resume();
    s3?.destroy();
    await fx?.close();
    await minio?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('store down: the upload is answered 503 with Retry-After, and nothing is visible', async () => {
    const id = await createOpenTrace(fx.traces);
    const body = await resultArchive(id, 'node-a', openEvents(20, { node: 'node-a' }));
    const res = await withStoreDown(() => putResult(base, fx.config.uploadTokenSecret, id, 'node-a', body));
    assert.equal(res.status, 503, await res.clone().text());
    assert.equal(((await res.json()) as { error: string }).error, 'unavailable');
    assert.ok(Number(res.headers.get('retry-after')) >= 1, 'Retry-After says when to try again');
    assert.deepEqual(await fx.results.nodes(id), []);
    assert.equal((await putResult(base, fx.config.uploadTokenSecret, id, 'node-a', body)).status, 201, 'the same upload goes through once the store is back');
  });

  test('store slow (paused, never answers): the upload is answered 503 within the store timeout', async () => {
    const id = await createOpenTrace(fx.traces);
    const body = await resultArchive(id, 'node-a', openEvents(20, { node: 'node-a' }));
    minio.pause();
    let res: Response;
    const started = Date.now();
    try {
      res = await putResult(base, fx.config.uploadTokenSecret, id, 'node-a', body);
    } finally {
      minio.resume();
    }
    assert.equal(res.status, 503, await res.clone().text());
    assert.ok(res.headers.get('retry-after'));
    assert.ok(Date.now() - started < 60_000, 'answered, not hung');
  });

  test('the runner retries through an outage and keeps its files', async () => {
    const id = await createOpenTrace(fx.traces);
    const dir = join(work, 'runner-out');
    const events = openEvents(50, { node: 'node-r' });
    const files = [join(dir, 'events.ndjson'), join(dir, 'summary.json')];
    mkdirSync(dir, { recursive: true });
    writeFileSync(files[0]!, ndjson(events));
    writeFileSync(files[1]!, nodeSummary(id, 'node-r', events.length));
    await minio.stop();
    const retries: string[] = [];
    let restarted: Promise<void> | undefined;
    const result = await uploadResult({
      url: `${base}/v1/traces/${id}/nodes/node-r/result`,
      token: uploadToken(fx.config.uploadTokenSecret, id, 'node-r'),
      files,
      attempts: 20,
      backoffMs: 100,
      maxDelayMs: 500,
      onRetry: (info) => {
        retries.push(info.reason);
        // Back after the first refusal: the next attempts find the store up.
        restarted ??= minio.start();
      },
    });
    await restarted;
    assert.ok(retries.length >= 1 && /HTTP 503/.test(retries[0]!), `first attempt refused with 503: ${retries.join('; ')}`);
    assert.ok(result.status === 201, `stored after ${result.attempts} attempts`);
    assert.ok(files.every((f) => existsSync(f)), 'the runner still has its files');
    const page = (await fx.app.inject({ url: `/v1/traces/${id}/events?limit=100` })).json();
    assert.equal(page.items.length, 50);
  });

  test('an upload cut mid-way leaves the previous result whole and nothing of the new one', async () => {
    const id = await createOpenTrace(fx.traces);
    const first = openEvents(10, { node: 'node-c' });
    assert.equal((await putResult(base, fx.config.uploadTokenSecret, id, 'node-c', await resultArchive(id, 'node-c', first))).status, 201);
    const before = await objectKeys(`traces/${id}/`);
    const refusedBefore = await refusedUploads();
    const big = await writeLargeResult(mkdtempSync(join(work, 'cut-')), id, 'node-c', 100_000);
    const archive = readFileSync(big.archive);
    // Send half the body, then drop the connection.
    await new Promise<void>((resolve) => {
      const req = request(`${base}/v1/traces/${id}/nodes/node-c/result`, {
        method: 'PUT',
        headers: { 'content-type': 'application/gzip', 'content-length': String(archive.length), authorization: `Bearer ${uploadToken(fx.config.uploadTokenSecret, id, 'node-c')}` },
      });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write(archive.subarray(0, archive.length >> 1), () => setImmediate(() => req.destroy()));
    });
    // The API notices the cut when its read fails and counts the upload as refused.
    const deadline = Date.now() + 30_000;
    while ((await refusedUploads()) === refusedBefore) {
      assert.ok(Date.now() < deadline, 'the API noticed the cut upload');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(await objectKeys(`traces/${id}/`), before, 'no object of the cut upload');
    const whole = await fx.app.inject({ url: `/v1/traces/${id}/events` });
    assert.equal(whole.body, ndjson(first), 'the earlier result is served whole');
  });

  test('a bundle download cut mid-way can be retried and is then complete', async () => {
    const id = await createOpenTrace(fx.traces);
    const big = await writeLargeResult(mkdtempSync(join(work, 'bundle-')), id, 'node-b', 60_000);
    assert.equal((await putResult(base, fx.config.uploadTokenSecret, id, 'node-b', readFileSync(big.archive))).status, 201);
    const cut = await fetch(`${base}/v1/traces/${id}/bundle`);
    const reader = cut.body!.getReader();
    await reader.read();
    await reader.cancel();
    const again = await fetch(`${base}/v1/traces/${id}/bundle`);
    assert.equal(again.status, 200);
    const entries = await untarGzText(Buffer.from(await again.arrayBuffer()));
    assert.equal(entries.get('nodes/node-b/events.ndjson'), readFileSync(big.ndjsonFile, 'utf8'));
  });

  test('the store killed and restarted mid-upload: 503, nothing visible, the retry stores it whole', async () => {
    const id = await createOpenTrace(fx.traces);
    const big = await writeLargeResult(mkdtempSync(join(work, 'restart-')), id, 'node-m', 150_000);
    const archive = readFileSync(big.archive);
    const pending = putResult(base, fx.config.uploadTokenSecret, id, 'node-m', archive);
    // Wait until the store holds a multipart upload in progress (MinIO stages it under
    // .minio.sys/multipart in its data directory), then kill it.
    const staging = join(minio.dir, 'data', '.minio.sys', 'multipart');
    const deadline = Date.now() + 180_000;
    while (!(existsSync(staging) && readdirSync(staging).length > 0)) {
      assert.ok(Date.now() < deadline, 'the multipart upload started');
      await new Promise((r) => setTimeout(r, 20));
    }
    await minio.kill();
    const res = await pending;
    await minio.start();
    assert.equal(res.status, 503, await res.clone().text());
    assert.deepEqual(await fx.results.nodes(id), [], 'nothing half-visible');
    const retry = await putResult(base, fx.config.uploadTokenSecret, id, 'node-m', archive);
    assert.equal(retry.status, 201, await retry.text());
    const top = (await fx.app.inject({ url: `/v1/traces/${id}/top?field=pod` })).json();
    assert.deepEqual(top.items, [
      { value: 'big-1', count: 75_000 },
      { value: 'big-2', count: 75_000 },
    ]);
    assert.equal((await fx.app.inject({ url: `/v1/traces/${id}/events` })).body.length, big.ndjsonBytes);
  });

  test('the store killed mid-body of a node download: the client gets an error, not a short file, and resumes the rest', async () => {
    const id = await createOpenTrace(fx.traces);
    const big = await writeLargeResult(mkdtempSync(join(work, 'node-dl-')), id, 'node-n', 150_000);
    assert.equal((await putResult(base, fx.config.uploadTokenSecret, id, 'node-n', readFileSync(big.archive))).status, 201);
    const res = await fetch(`${base}/v1/traces/${id}/nodes/node-n/events`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-length'), String(big.ndjsonBytes));
    const etag = res.headers.get('etag')!;
    const reader = res.body!.getReader();
    const got: Buffer[] = [];
    let have = 0;
    // Headers sent and the body under way; the rest is still in the store when it dies.
    while (have < 1024 * 1024) {
      const { value, done } = await reader.read();
      assert.ok(!done, 'more than 1 MiB arrives before the store is killed');
      got.push(Buffer.from(value));
      have += value.length;
    }
    await minio.kill();
    let broke: unknown;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        got.push(Buffer.from(value));
        have += value.length;
      }
    } catch (err) {
      broke = err;
    }
    await minio.start();
    assert.ok(broke !== undefined, `the cut is an error to the client (read ${have} of ${big.ndjsonBytes} bytes cleanly otherwise)`);
    assert.ok(have < big.ndjsonBytes, 'the store died before the body was whole');
    const rest = await fetch(`${base}/v1/traces/${id}/nodes/node-n/events`, { headers: { range: `bytes=${have}-`, 'if-range': etag } });
    assert.equal(rest.status, 206);
    assert.equal(rest.headers.get('content-range'), `bytes ${have}-${big.ndjsonBytes - 1}/${big.ndjsonBytes}`);
    const whole = Buffer.concat([...got, Buffer.from(await rest.arrayBuffer())]);
    assert.ok(whole.equals(readFileSync(big.ndjsonFile)), 'the resumed file is the uploaded one');
  });

  test("the store killed mid-body of the CLI's bundle download: it retries until the store is back, resumes, and writes the whole bundle", async () => {
    const id = await createOpenTrace(fx.traces);
    const big = await writeLargeResult(mkdtempSync(join(work, 'bundle-dl-')), id, 'node-q', 150_000);
    assert.equal((await putResult(base, fx.config.uploadTokenSecret, id, 'node-q', readFileSync(big.archive))).status, 201);
    // A first whole download: from then on the API knows the bundle's length and can resume it.
    const reference = Buffer.from(await (await fetch(`${base}/v1/traces/${id}/bundle`)).arrayBuffer());
    const file = join(work, `bundle-${id}.tar.gz`);
    const retries: string[] = [];
    const { result, killed } = await downloadBundleKillingStore(id, file, (reason) => retries.push(reason));
    assert.ok(killed, 'the store was killed mid-download');
    assert.ok(retries.length >= 1, 'the cut was noticed');
    assert.ok(result.resumed >= 1, `resumed with a Range (retries: ${retries.join('; ')})`);
    assert.ok(!existsSync(`${file}.partial`));
    assert.ok(readFileSync(file).equals(reference), 'the bundle written is the whole bundle');
    const entries = await untarGzText(readFileSync(file));
    assert.equal(entries.get('nodes/node-q/events.ndjson'), readFileSync(big.ndjsonFile, 'utf8'));
  });

  test("a bundle this replica never assembled whole: after the store dies mid-body the CLI starts it again and writes it whole", async () => {
    const id = await createOpenTrace(fx.traces);
    const big = await writeLargeResult(mkdtempSync(join(work, 'bundle-new-')), id, 'node-u', 150_000);
    assert.equal((await putResult(base, fx.config.uploadTokenSecret, id, 'node-u', readFileSync(big.archive))).status, 201);
    const file = join(work, `bundle-${id}.tar.gz`);
    const { result, killed } = await downloadBundleKillingStore(id, file);
    assert.ok(killed, 'the store was killed mid-download');
    assert.ok(result.attempts >= 2);
    assert.equal(result.resumed, 0, 'no length known for the range: sent whole again');
    const again = Buffer.from(await (await fetch(`${base}/v1/traces/${id}/bundle`)).arrayBuffer());
    assert.ok(readFileSync(file).equals(again), 'the file is the whole bundle');
    assert.equal((await untarGzText(readFileSync(file))).get('nodes/node-u/events.ndjson'), readFileSync(big.ndjsonFile, 'utf8'));
  });
});
