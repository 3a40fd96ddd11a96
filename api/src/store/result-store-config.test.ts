/** RESULT_STORE and S3_*: a complete object store is accepted, a half-configured one refused naming the variable. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, resultStoreConfig } from '../../../state/src/config.ts';

const full = { RESULT_STORE: 's3', S3_ENDPOINT: 'http://127.0.0.1:9000', S3_BUCKET: 'traces', S3_ACCESS_KEY_ID: 'id', S3_SECRET_ACCESS_KEY: 'secret' };

function refused(env: Record<string, string>, variable: string) {
  assert.throws(() => resultStoreConfig(env), (err: unknown) => err instanceof ConfigError && err.variable === variable, `${JSON.stringify(env)} → ${variable}`);
}

test('default is the filesystem; a complete object store is read with its defaults', () => {
  assert.deepEqual(resultStoreConfig({}), { kind: 'fs' });
  assert.deepEqual(resultStoreConfig(full), {
    kind: 's3', endpoint: 'http://127.0.0.1:9000', bucket: 'traces', region: 'us-east-1',
    credentials: { accessKeyId: 'id', secretAccessKey: 'secret' }, forcePathStyle: true, timeoutSeconds: 30,
  });
  const noKeys = resultStoreConfig({ RESULT_STORE: 's3', S3_BUCKET: 'traces' });
  assert.equal(noKeys.kind === 's3' && noKeys.credentials, undefined, 'no keys: the SDK credential chain');
});

test('a half-configured store is refused, naming the variable', () => {
  refused({ RESULT_STORE: 's3' }, 'S3_BUCKET');
  refused({ ...full, S3_SECRET_ACCESS_KEY: '' }, 'S3_SECRET_ACCESS_KEY');
  refused({ ...full, S3_ACCESS_KEY_ID: '' }, 'S3_ACCESS_KEY_ID');
  refused({ S3_BUCKET: 'traces' }, 'RESULT_STORE');
  refused({ RESULT_STORE: 'gcs' }, 'RESULT_STORE');
  refused({ ...full, S3_BUCKET: 'Bad_Bucket' }, 'S3_BUCKET');
  refused({ ...full, S3_ENDPOINT: 'ftp://x' }, 'S3_ENDPOINT');
  refused({ ...full, S3_FORCE_PATH_STYLE: 'yes' }, 'S3_FORCE_PATH_STYLE');
  refused({ ...full, S3_TIMEOUT_SECONDS: '0' }, 'S3_TIMEOUT_SECONDS');
});

test('keys from files (a mounted Secret); an empty or missing file is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tracejob-s3-keys-'));
  try {
    writeFileSync(join(dir, 'id'), 'file-id\n');
    writeFileSync(join(dir, 'secret'), 'file-secret\n');
    writeFileSync(join(dir, 'empty'), '\n');
    const env = { RESULT_STORE: 's3', S3_BUCKET: 'traces', S3_ACCESS_KEY_ID_FILE: join(dir, 'id'), S3_SECRET_ACCESS_KEY_FILE: join(dir, 'secret') };
    const cfg = resultStoreConfig(env);
    assert.deepEqual(cfg.kind === 's3' && cfg.credentials, { accessKeyId: 'file-id', secretAccessKey: 'file-secret' });
    refused({ ...env, S3_SECRET_ACCESS_KEY_FILE: join(dir, 'empty') }, 'S3_SECRET_ACCESS_KEY_FILE');
    refused({ ...env, S3_SECRET_ACCESS_KEY_FILE: join(dir, 'nope') }, 'S3_SECRET_ACCESS_KEY_FILE');
    refused({ ...env, S3_ACCESS_KEY_ID: 'both' }, 'S3_ACCESS_KEY_ID');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
