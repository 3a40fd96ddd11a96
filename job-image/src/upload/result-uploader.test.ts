import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startUploadServer, untarGz, type UploadServer } from '../../../test/runner-upload-server.ts';
import { parseRetryAfter, retryDelayMs, uploadResult, UploadFailedError } from './result-uploader.ts';

const dir = mkdtempSync(join(tmpdir(), 'tracejob-upload-'));
const events = join(dir, 'events.ndjson');
const summary = join(dir, 'summary.json');
const bigLine = `${JSON.stringify({ comm: 'x'.repeat(200) })}\n`;
writeFileSync(events, bigLine.repeat(20_000)); // ~4 MB: streamed, not one buffer
writeFileSync(summary, '{"events":20000}\n');
const servers: UploadServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});
async function server(script: Parameters<typeof startUploadServer>[0] = []) {
  const s = await startUploadServer(script);
  servers.push(s);
  return s;
}

test('PUTs a tar.gz of both files with the bearer token and content type', async () => {
  const s = await server();
  const result = await uploadResult({ url: `${s.url}/v1/traces/t1/nodes/n1/result`, token: 'secret-1', files: [events, summary] });
  assert.equal(result.status, 200);
  assert.equal(result.attempts, 1);
  const [req] = s.received;
  assert.equal(req!.method, 'PUT');
  assert.equal(req!.url, '/v1/traces/t1/nodes/n1/result');
  assert.equal(req!.headers.authorization, 'Bearer secret-1');
  assert.equal(req!.headers['content-type'], 'application/gzip');
  assert.equal(result.bytes, req!.body.length);
  assert.ok(req!.body.length < 1_000_000, 'compressed');
  const entries = await untarGz(req!.body);
  assert.deepEqual([...entries.keys()], ['events.ndjson', 'summary.json']);
  assert.equal(entries.get('events.ndjson')!.toString(), bigLine.repeat(20_000));
  assert.equal(entries.get('summary.json')!.toString(), '{"events":20000}\n');
});

test('retries 503 and 429 (honouring Retry-After), then succeeds', async () => {
  const s = await server([{ status: 503 }, { status: 429, headers: { 'retry-after': '1' } }]);
  const retries: { attempt: number; delayMs: number; reason: string }[] = [];
  const started = Date.now();
  const result = await uploadResult({ url: s.url, token: 't', files: [events, summary], backoffMs: 10, onRetry: (r) => retries.push(r) });
  assert.equal(result.attempts, 3);
  assert.equal(s.received.length, 3);
  assert.match(retries[0]!.reason, /HTTP 503/);
  assert.equal(retries[1]!.delayMs, 1000, 'Retry-After: 1 waits a second');
  assert.ok(Date.now() - started >= 1000);
  assert.equal((await untarGz(s.received[2]!.body)).size, 2, 'the retried body is complete');
  const ids = s.received.map((r) => r.headers['upload-id']);
  assert.match(String(ids[0]), /^[0-9a-f-]{36}$/, 'each upload carries an Upload-Id');
  assert.deepEqual(ids, [ids[0], ids[0], ids[0]], 'retries repeat the same Upload-Id, so the API accepts them as the same upload');
});

test('gives up after the attempts, saying why; a 4xx is not retried', async () => {
  const s = await server(Array.from({ length: 10 }, () => ({ status: 502 })));
  await assert.rejects(uploadResult({ url: s.url, token: 't', files: [events, summary], attempts: 3, backoffMs: 5 }), (err: Error) => {
    assert.ok(err instanceof UploadFailedError);
    assert.equal(err.attempts, 3);
    assert.match(err.message, /failed after 3 attempts: HTTP 502/);
    return true;
  });
  assert.equal(s.received.length, 3);
  const refused = await server([{ status: 401 }]);
  await assert.rejects(uploadResult({ url: refused.url, token: 'bad', files: [events, summary], backoffMs: 5 }), /refused: HTTP 401/);
  assert.equal(refused.received.length, 1);
});

test('network errors (nothing listening) are retried, then reported', async () => {
  const s = await server();
  const url = s.url;
  await s.close();
  servers.pop();
  await assert.rejects(uploadResult({ url, token: 't', files: [events, summary], attempts: 2, backoffMs: 5 }), /failed after 2 attempts: network error: .*ECONNREFUSED/);
});

test('a missing result file fails at once, naming the file', async () => {
  await assert.rejects(uploadResult({ url: 'http://127.0.0.1:9/', token: 't', files: [join(dir, 'nope.json')] }), /cannot read the result file .*nope\.json/);
});

test('backoff doubles with jitter, is capped, and Retry-After is a floor', () => {
  assert.equal(retryDelayMs(1, 500, 30_000, () => 0), 250);
  assert.equal(retryDelayMs(1, 500, 30_000, () => 0.999), 500);
  assert.equal(retryDelayMs(4, 500, 30_000, () => 1), 4000);
  assert.equal(retryDelayMs(20, 500, 30_000, () => 1), 30_000);
  assert.equal(retryDelayMs(1, 500, 30_000, () => 0, 7000), 7000);
  assert.equal(parseRetryAfter('3'), 3000);
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4000), 6000);
  assert.equal(parseRetryAfter('soon'), undefined);
});
