import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadKubernetesBackendConfig } from './kubernetes-config.ts';

test('defaults with only the runner image set', () => {
  const c = loadKubernetesBackendConfig({ RUNNER_IMAGE: 'r/runner:1' });
  assert.equal(c.pod.image, 'r/runner:1');
  assert.equal(c.pod.namespace, 'tracejob-runners');
  assert.equal(c.pod.privileged, false);
  assert.deepEqual(c.limits, { perNode: 2, total: 500 });
  assert.equal(c.nodeLostGraceSeconds, 0, 'a NotReady node is given up at once (the controller has already waited)');
  assert.equal(loadKubernetesBackendConfig({ RUNNER_IMAGE: 'x', RUNNER_NODE_LOST_GRACE_SECONDS: '45' }).nodeLostGraceSeconds, 45);
});

test('bad values are errors naming the variable', () => {
  assert.throws(() => loadKubernetesBackendConfig({}), /RUNNER_IMAGE/);
  assert.throws(() => loadKubernetesBackendConfig({ RUNNER_IMAGE: 'x', RUNNER_IMAGE_PULL_POLICY: 'Sometimes' }), /RUNNER_IMAGE_PULL_POLICY/);
  assert.throws(() => loadKubernetesBackendConfig({ RUNNER_IMAGE: 'x', RUNNER_MAX_PODS_PER_NODE: '0' }), /RUNNER_MAX_PODS_PER_NODE/);
  assert.throws(() => loadKubernetesBackendConfig({ RUNNER_IMAGE: 'x', RUNNER_MEMORY_LIMIT: 'lots' }), /RUNNER_MEMORY_LIMIT/);
  assert.throws(() => loadKubernetesBackendConfig({ RUNNER_IMAGE: 'x', RUNNER_PRIVILEGED: 'yes' }), /RUNNER_PRIVILEGED/);
  assert.throws(() => loadKubernetesBackendConfig({ RUNNER_IMAGE: 'x', RUNNER_NAMESPACE: 'Bad_NS' }), /RUNNER_NAMESPACE/);
  assert.throws(() => loadKubernetesBackendConfig({ RUNNER_IMAGE: 'x', RUNNER_COMMAND: '"runner"' }), /RUNNER_COMMAND/);
  assert.throws(() => loadKubernetesBackendConfig({ RUNNER_IMAGE: 'x', RUNNER_NODE_LOST_GRACE_SECONDS: '-1' }), /RUNNER_NODE_LOST_GRACE_SECONDS/);
});
