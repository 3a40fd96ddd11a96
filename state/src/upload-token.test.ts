import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issueUploadToken, verifyUploadToken } from './upload-token.ts';

const secret = 'x'.repeat(40);
const id = '0b9f1c3e-1111-4222-8333-444455556666';
const later = new Date(Date.now() + 60_000);

test('a token is good for its trace and node only, until it expires', () => {
  const token = issueUploadToken(secret, id, 'node-a', later);
  assert.deepEqual(verifyUploadToken(secret, token, id, 'node-a'), { ok: true });
  assert.deepEqual(verifyUploadToken(secret, token, id, 'node-b'), { ok: false, reason: 'wrong-node' });
  assert.deepEqual(verifyUploadToken(secret, token, id.replace('0b', '0c'), 'node-a'), { ok: false, reason: 'wrong-trace' });
  assert.deepEqual(verifyUploadToken(secret, token, id, 'node-a', new Date(later.getTime() + 2000)), { ok: false, reason: 'expired' });
});

test('a token signed with another secret or altered is refused', () => {
  const token = issueUploadToken('y'.repeat(40), id, 'node-a', later);
  assert.deepEqual(verifyUploadToken(secret, token, id, 'node-a'), { ok: false, reason: 'bad-signature' });
  const good = issueUploadToken(secret, id, 'node-a', later);
  const forged = Buffer.from(JSON.stringify({ t: id, n: 'node-b', e: 9e9 })).toString('base64url') + '.' + good.split('.')[1];
  assert.deepEqual(verifyUploadToken(secret, forged, id, 'node-b'), { ok: false, reason: 'bad-signature' });
  assert.deepEqual(verifyUploadToken(secret, 'garbage', id, 'node-a'), { ok: false, reason: 'malformed' });
});
