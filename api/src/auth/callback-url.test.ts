import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkCallbackUrl, isAllowedCallbackUrl, isSensitiveIp } from './callback-url.ts';

const allowed = ['hooks.example.com', '*.ci.example.org', '10.1.2.3'];

test('https URLs on the allow-list are accepted', () => {
  assert.equal(isAllowedCallbackUrl('https://hooks.example.com/trace-done?x=1', allowed), true);
  assert.equal(isAllowedCallbackUrl('https://HOOKS.example.com./a', allowed), true);
  assert.equal(isAllowedCallbackUrl('https://build.ci.example.org/cb', allowed), true);
  assert.equal(isAllowedCallbackUrl('https://10.1.2.3/cb', allowed), true, 'an IP literal that is itself allowed');
});

test('other schemes, hosts, credentials and sensitive IP literals are refused', () => {
  const refused = [
    'http://hooks.example.com/a',
    'ftp://hooks.example.com/a',
    'javascript:alert(1)',
    'https://evil.com/a',
    'https://hooks.example.com.evil.com/a',
    'https://ci.example.org/a',
    'https://user:pw@hooks.example.com/a',
    'https://169.254.169.254/latest/meta-data/',
    'https://2852039166/latest',
    'https://127.0.0.1/',
    'https://0x7f.1/',
    'https://[::1]/',
    'https://[fe80::1]/',
    'https://[::ffff:169.254.169.254]/',
    'https://10.9.9.9/',
    'not a url',
    '',
  ];
  for (const u of refused) assert.equal(isAllowedCallbackUrl(u, allowed), false, u);
  assert.equal(isAllowedCallbackUrl('http://hooks.example.com/a', allowed, { allowHttp: true }), true);
  assert.equal(isAllowedCallbackUrl('https://169.254.169.254/', ['169.254.169.254']), true, 'explicitly allowed');
  const check = checkCallbackUrl('https://169.254.169.254/', { allowedHosts: allowed });
  assert.equal(check.ok, false);
  assert.match(!check.ok ? check.reason : '', /metadata/);
});

test('isSensitiveIp covers the metadata, private and loopback ranges', () => {
  for (const ip of ['169.254.169.254', '127.0.0.1', '10.0.0.1', '172.16.0.1', '192.168.1.1', '100.64.0.1', '0.0.0.0', '::1', 'fd00:ec2::254', 'fe80::1']) assert.equal(isSensitiveIp(ip), true, ip);
  for (const ip of ['8.8.8.8', '172.32.0.1', '2001:db8::1']) assert.equal(isSensitiveIp(ip), false, ip);
});
