import assert from 'node:assert/strict';
import { test } from 'node:test';
import { slackSignature, verifySlackSignature } from './slack-signature.ts';

const secret = '8f742231b10e8888abcd99yyyzzz85a5';
const body = 'token=xyz&team_id=T1&command=%2Ftrace&text=exec+shop+app%3Dweb+30s';
const ts = '1531420618';
const now = 1531420618 + 10;

test('a correct v0 signature within the window is accepted', () => {
  assert.deepEqual(verifySlackSignature(secret, ts, body, slackSignature(secret, ts, body), now), { ok: true });
  assert.deepEqual(verifySlackSignature(secret, ts, Buffer.from(body), slackSignature(secret, ts, body), new Date(now * 1000)), { ok: true });
});

test('altered body, other secret, stale or future timestamp, malformed headers are refused', () => {
  const sig = slackSignature(secret, ts, body);
  assert.deepEqual(verifySlackSignature(secret, ts, body + '&x=1', sig, now), { ok: false, reason: 'bad-signature' });
  assert.deepEqual(verifySlackSignature('other-secret', ts, body, sig, now), { ok: false, reason: 'bad-signature' });
  assert.deepEqual(verifySlackSignature(secret, ts, body, sig, Number(ts) + 301), { ok: false, reason: 'stale' });
  assert.deepEqual(verifySlackSignature(secret, ts, body, sig, Number(ts) - 301), { ok: false, reason: 'stale' });
  // Re-signing the same body with a fresh timestamp needs the secret: the old signature fails.
  assert.deepEqual(verifySlackSignature(secret, String(now), body, sig, now), { ok: false, reason: 'bad-signature' });
  assert.deepEqual(verifySlackSignature(secret, undefined, body, sig, now), { ok: false, reason: 'missing' });
  assert.deepEqual(verifySlackSignature(secret, ts, body, undefined, now), { ok: false, reason: 'missing' });
  assert.deepEqual(verifySlackSignature(secret, '12abc', body, sig, now), { ok: false, reason: 'malformed' });
  assert.deepEqual(verifySlackSignature(secret, ts, body, sig.toUpperCase(), now), { ok: false, reason: 'malformed' });
  assert.deepEqual(verifySlackSignature(secret, ts, body, 'v0=abcd', now), { ok: false, reason: 'malformed' });
  assert.throws(() => verifySlackSignature('', ts, body, sig, now), /signing secret is empty/);
});
