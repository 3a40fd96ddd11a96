/**
 * The object-store result store against a real S3 server (MinIO, test/support/minio.ts) and a
 * real Redis: the bucket made at start, round trip through the routes (upload, bundle, events,
 * top), the layout in the bucket, re-upload, deletion with the trace, retention, the sweep of
 * uploads that never became visible.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DeleteObjectsCommand, HeadBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { expireResults } from '../../api/src/store/expire-results.ts';
import { S3ResultStore } from '../../api/src/store/s3-result-store.ts';
import { startAppFixture, type AppFixture } from '../support/app-fixture.ts';
import { minioMissing, startTestMinio, type TestMinio } from '../support/minio.ts';
import { createOpenTrace, ndjson, openEvents, resultArchive, uploadToken } from '../support/node-results.ts';
import { untarGzText } from '../support/tar.ts';

const skip = minioMissing();
let minio: TestMinio;
let fx: AppFixture;
let s3: S3Client;
const BUCKET = 'tracejob-store-test';

async function keys(prefix: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

async function upload(traceId: string, node: string, body: Buffer) {
  return fx.app.inject({
    method: 'PUT',
    url: `/v1/traces/${traceId}/nodes/${node}/result`,
    payload: body,
    headers: { 'content-type': 'application/gzip', authorization: `Bearer ${uploadToken(fx.config.uploadTokenSecret, traceId, node)}` },
  });
}

describe('S3 result store (MinIO)', { skip }, () => {
  before(async () => {
    minio = await startTestMinio();
    fx = await startAppFixture({ ...minio.env(BUCKET), RETENTION_SECONDS: '2', MAX_RESULT_BYTES: String(64 * 1024 * 1024) });
    s3 = new S3Client({ endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey } });
  });
  after(async () => {
    s3?.destroy();
    await fx?.close();
    await minio?.close();
  });

  test('the bucket is created at start', async () => {
    assert.ok(fx.results instanceof S3ResultStore);
    await s3.send(new HeadBucketCommand({ Bucket: BUCKET }));
  });

  test('round trip: upload, bundle, events, top, all from the bucket', async () => {
    const id = await createOpenTrace(fx.traces);
    const a = openEvents(120, { node: 'node-a', timestampAs: 'string' });
    const b = openEvents(80, { node: 'node-b', pods: ['api-1'] });
    assert.equal((await upload(id, 'node-a', await resultArchive(id, 'node-a', a))).statusCode, 201);
    assert.equal((await upload(id, 'node-b', await resultArchive(id, 'node-b', b))).statusCode, 201);

    const stored = await keys(`traces/${id}/`);
    assert.deepEqual(stored.filter((k) => k.includes('/current/')), [`traces/${id}/current/node-a.json`, `traces/${id}/current/node-b.json`]);
    for (const node of ['node-a', 'node-b']) {
      const files = stored.filter((k) => k.startsWith(`traces/${id}/uploads/${node}/`)).map((k) => k.split('/').pop());
      assert.deepEqual(files.sort(), ['columnar.json', 'counts.parquet', 'events.ndjson', 'events.parquet', 'line-offsets.bin', 'summary.json']);
    }

    const bundle = await fx.app.inject({ url: `/v1/traces/${id}/bundle` });
    assert.equal(bundle.statusCode, 200);
    const entries = await untarGzText(bundle.rawPayload);
    assert.equal(entries.get('nodes/node-a/events.ndjson'), ndjson(a));
    assert.equal(entries.get('nodes/node-b/events.ndjson'), ndjson(b));
    assert.equal(JSON.parse(entries.get('summary.json')!).events, 200);

    const whole = await fx.app.inject({ url: `/v1/traces/${id}/events` });
    assert.equal(whole.body, ndjson([...a, ...b]));
    const page = (await fx.app.inject({ url: `/v1/traces/${id}/events?pod=api-1&error=ENOENT&limit=5` })).json();
    assert.equal(page.items.length, 5);
    assert.ok(page.items.every((e: Record<string, unknown>) => e.pod === 'api-1' && e.error === 'ENOENT'));
    const top = (await fx.app.inject({ url: `/v1/traces/${id}/top?field=pod` })).json();
    assert.deepEqual(top.items, [
      { value: 'api-1', count: 80 },
      { value: 'web-1', count: 60 },
      { value: 'web-2', count: 60 },
    ]);
  });

  test('a re-upload replaces the node result and removes the old upload objects', async () => {
    const id = await createOpenTrace(fx.traces);
    await upload(id, 'node-a', await resultArchive(id, 'node-a', openEvents(10, { node: 'node-a' })));
    const first = (await keys(`traces/${id}/uploads/`)).map((k) => k.split('/')[4]);
    await upload(id, 'node-a', await resultArchive(id, 'node-a', openEvents(4, { node: 'node-a', pods: ['second'] })));
    const second = (await keys(`traces/${id}/uploads/`)).map((k) => k.split('/')[4]);
    assert.equal(new Set(second).size, 1);
    assert.notEqual(second[0], first[0]);
    const top = (await fx.app.inject({ url: `/v1/traces/${id}/top?field=pod` })).json();
    assert.deepEqual(top.items, [{ value: 'second', count: 4 }]);
  });

  test('deleting a trace deletes every object under its prefix', async () => {
    const id = await createOpenTrace(fx.traces);
    await upload(id, 'node-a', await resultArchive(id, 'node-a', openEvents(10, { node: 'node-a' })));
    await fx.traces.finish(id, 'succeeded');
    assert.notEqual((await keys(`traces/${id}/`)).length, 0);
    const res = await fx.app.inject({ method: 'DELETE', url: `/v1/traces/${id}` });
    assert.equal(res.statusCode, 204, res.body);
    assert.deepEqual(await keys(`traces/${id}/`), []);
    assert.equal((await fx.app.inject({ url: `/v1/traces/${id}/events` })).statusCode, 404);
  });

  test('retention: once the trace record expires, the maintenance pass removes its objects', async () => {
    const id = await createOpenTrace(fx.traces);
    await upload(id, 'node-a', await resultArchive(id, 'node-a', openEvents(10, { node: 'node-a' })));
    await fx.traces.finish(id, 'succeeded');
    // RETENTION_SECONDS=2: wait for Redis to expire the record (the condition, not a fixed sleep).
    const deadline = Date.now() + 30_000;
    while ((await fx.traces.exists(id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    assert.equal(await fx.traces.exists(id), false);
    assert.ok((await expireResults(fx.traces, fx.results)).includes(id));
    assert.deepEqual(await keys(`traces/${id}/`), []);
  });

  test('the sweep removes uploads no pointer names, once they are past the grace period', async () => {
    const id = await createOpenTrace(fx.traces);
    await upload(id, 'node-a', await resultArchive(id, 'node-a', openEvents(5, { node: 'node-a' })));
    const orphan = `traces/${id}/uploads/node-b/00000000-0000-4000-8000-000000000000/events.ndjson`;
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: orphan, Body: 'half\n' }));
    const store = fx.results as S3ResultStore;
    assert.equal(await store.sweepUnreferenced(id), 0, 'a fresh orphan may be an upload still running');
    assert.deepEqual(await fx.results.nodes(id), ['node-a'], 'an upload without its pointer is not visible');
    assert.equal(await store.sweepUnreferenced(id, Date.now() + 2 * 3600_000), 1);
    assert.ok(!(await keys(`traces/${id}/`)).includes(orphan));
    assert.equal((await keys(`traces/${id}/uploads/node-a/`)).length, 6, 'the current upload stays (its six objects)');
    await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: [{ Key: orphan }] } }));
  });
});
