import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { AuthConfigError, parseAuthConfig } from './access-policy.ts';
import { loadAuthConfig } from './auth-config-loader.ts';
import { generateApiToken, hashApiToken, sha256HexEqual, tokenHashCommandOutput } from './api-token-hash.ts';

const digest = hashApiToken('secret-token-1');

test('hashApiToken is the SHA-256 hex digest; comparisons are exact', () => {
  assert.equal(hashApiToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(sha256HexEqual(digest, hashApiToken('secret-token-1')), true);
  assert.equal(sha256HexEqual(digest, hashApiToken('secret-token-2')), false);
  assert.equal(sha256HexEqual(digest, 'not-hex'), false);
  assert.match(generateApiToken(), /^tj_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(generateApiToken(), generateApiToken());
  assert.equal(tokenHashCommandOutput('abc').yaml, `sha256: ${hashApiToken('abc')}`);
});

test('a token entry is parsed with defaults and sha256:/hash forms', () => {
  const cfg = parseAuthConfig(
    {
      tokens: [
        { name: 'shop', sha256: digest, namespaces: ['shop'], maxDurationSeconds: 60, maxConcurrentTraces: 2, rateLimit: { requests: 10 } },
        { name: 'ops', hash: `sha256:${hashApiToken('x').toUpperCase()}`, namespaces: ['*'], gadgets: ['exec', 'open'], local: true },
      ],
      limits: { maxConcurrentTraces: 20 },
    },
    'test',
  );
  assert.equal(cfg.mode, 'enforced');
  assert.deepEqual(cfg.tokens[0]!.policy, { name: 'shop', namespaces: ['shop'], gadgets: ['*'], local: false, maxDurationSeconds: 60, maxConcurrentTraces: 2, rateLimit: { requests: 10, windowSeconds: 60 } });
  assert.equal(cfg.tokens[1]!.sha256, hashApiToken('x'));
  assert.equal(cfg.tokens[1]!.policy.local, true);
  assert.equal(cfg.limits.maxConcurrentTraces, 20);
});

test('bad config is refused with the field named', () => {
  const bad: [unknown, string][] = [
    [{ tokens: [{ name: 'a', token: 'plain', namespaces: ['*'] }] }, 'tokens[0].token'],
    [{ tokens: [{ name: 'a', sha256: 'plain-text-token', namespaces: ['*'] }] }, 'tokens[0].sha256'],
    [{ tokens: [{ name: 'a', sha256: digest }] }, 'tokens[0].namespaces'],
    [{ tokens: [{ name: 'a', sha256: digest, namespaces: ['Not_A_Namespace'] }] }, 'tokens[0].namespaces[0]'],
    [{ tokens: [{ name: 'a', sha256: digest, namespaces: ['*'], gadgets: ['kprobe'] }] }, 'tokens[0].gadgets[0]'],
    [{ tokens: [{ name: 'a', sha256: digest, namespaces: ['*'], maxDurationSeconds: -1 }] }, 'tokens[0].maxDurationSeconds'],
    [{ tokens: [{ name: 'a', sha256: digest, namespaces: ['*'] }, { name: 'a', sha256: hashApiToken('b'), namespaces: ['*'] }] }, 'tokens[1].name'],
    [{ tokens: [{ name: 'a', sha256: digest, namespaces: ['*'] }, { name: 'b', sha256: digest, namespaces: ['*'] }] }, 'tokens[1].sha256'],
    [{ tokens: [] }, 'tokens'],
    [{}, 'tokens'],
    [{ kubernetes: { policies: [{ name: 'k', namespaces: ['*'] }] } }, 'kubernetes.policies[0]'],
    [{ tokens: [{ name: 'a', sha256: digest, namespaces: ['*'] }], limits: { maxConcurrentTraces: 0 } }, 'limits.maxConcurrentTraces'],
  ];
  for (const [doc, field] of bad) {
    assert.throws(() => parseAuthConfig(doc, 'test'), (err: unknown) => err instanceof AuthConfigError && err.field === field, `expected an error on ${field}`);
  }
});

test('loadAuthConfig reads a YAML file, a JSON file, or a Secret directory; none means open', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tj-auth-'));
  try {
    const yamlFile = join(dir, 'auth.yaml');
    writeFileSync(yamlFile, `tokens:\n  - name: shop\n    sha256: ${digest}\n    namespaces: [shop]\n`);
    assert.equal(loadAuthConfig({ AUTH_CONFIG_FILE: yamlFile }).tokens[0]!.policy.name, 'shop');
    const jsonFile = join(dir, 'auth.json');
    writeFileSync(jsonFile, JSON.stringify({ tokens: [{ name: 'j', sha256: digest, namespaces: ['*'] }] }));
    assert.equal(loadAuthConfig({ AUTH_CONFIG_FILE: jsonFile }).tokens[0]!.policy.name, 'j');
    writeFileSync(join(dir, 'broken.yaml'), 'tokens: [unclosed');
    assert.throws(() => loadAuthConfig({ AUTH_CONFIG_FILE: join(dir, 'broken.yaml') }), /broken\.yaml: is not valid YAML/);

    // A mounted Secret: one key per token plus a limits key; kubelet's ..data links are skipped.
    const secret = join(dir, 'secret');
    mkdirSync(join(secret, '..2024_01_01'), { recursive: true });
    writeFileSync(join(secret, '..2024_01_01', 'shop'), `name: shop\nsha256: ${digest}\nnamespaces: [shop]\n`);
    writeFileSync(join(secret, '..2024_01_01', 'ops.json'), JSON.stringify({ tokens: [{ name: 'ops', sha256: hashApiToken('o'), namespaces: ['*'] }] }));
    symlinkSync('..2024_01_01', join(secret, '..data'));
    symlinkSync('..data/shop', join(secret, 'shop'));
    symlinkSync('..data/ops.json', join(secret, 'ops.json'));
    const fromDir = loadAuthConfig({ AUTH_CONFIG_DIR: secret });
    assert.deepEqual(fromDir.tokens.map((t) => t.policy.name).sort(), ['ops', 'shop']);

    assert.equal(loadAuthConfig({}).mode, 'open');
    assert.throws(() => loadAuthConfig({ AUTH_CONFIG_FILE: join(dir, 'missing.yaml') }), /AUTH_CONFIG_FILE: cannot read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
