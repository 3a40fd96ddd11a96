import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertAuthConfigSafe, isLoopbackHost, UnsafeListenError } from './listen-safety.ts';

test('loopback addresses are recognised', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '::ffff:10.0.0.1', '128.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
});

test('open mode beyond loopback refuses to start; on loopback it warns loudly; enforced auth passes', () => {
  assert.throws(() => assertAuthConfigSafe({ host: '0.0.0.0', auth: { mode: 'open' } }), UnsafeListenError);
  assert.throws(() => assertAuthConfigSafe({ host: '::', auth: { mode: 'open' } }), /refusing to listen on :: without authentication/);
  const warnings: string[] = [];
  assertAuthConfigSafe({ host: '127.0.0.1', auth: { mode: 'open' } }, { warn: (_o, m) => warnings.push(m) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /AUTHENTICATION IS OFF/);
  assertAuthConfigSafe({ host: '0.0.0.0', auth: { mode: 'enforced' } }, { warn: (_o, m) => warnings.push(m) });
  assert.equal(warnings.length, 1);
});
