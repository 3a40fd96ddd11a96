import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseContainerId } from './container-id.ts';

test('runtime prefixes are split off and kept as the runtime', () => {
  assert.deepEqual(parseContainerId('containerd://abc123'), { runtime: 'containerd', id: 'abc123' });
  assert.deepEqual(parseContainerId('cri-o://def456'), { runtime: 'cri-o', id: 'def456' });
  assert.deepEqual(parseContainerId('docker://0a1b'), { runtime: 'docker', id: '0a1b' });
  assert.deepEqual(parseContainerId('rkt://x'), { runtime: 'unknown', id: 'x' });
  assert.equal(parseContainerId(''), undefined);
  assert.equal(parseContainerId(undefined), undefined);
  assert.equal(parseContainerId('containerd://'), undefined);
});
