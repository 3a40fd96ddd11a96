import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Node } from './kubernetes-client.ts';
import { nodeReadiness } from './node-health-watch.ts';

const node = (conditions: NonNullable<V1Node['status']>['conditions']): V1Node => ({ metadata: { name: 'worker-3' }, status: { conditions } });

test('a Node\'s Ready condition: ready, not ready with the words the kubelet or the controller gave, none yet', () => {
  assert.deepEqual(nodeReadiness(node([{ type: 'MemoryPressure', status: 'False' }, { type: 'Ready', status: 'True', reason: 'KubeletReady' }])), { ready: 'True' });
  assert.deepEqual(nodeReadiness(node([{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' }])), {
    ready: 'Unknown',
    detail: 'Ready=Unknown, NodeStatusUnknown: Kubelet stopped posting node status.',
  });
  assert.deepEqual(nodeReadiness(node([{ type: 'Ready', status: 'False', reason: 'KubeletNotReady' }])), { ready: 'False', detail: 'Ready=False, KubeletNotReady' });
  assert.deepEqual(nodeReadiness(node([{ type: 'Ready', status: 'False' }])), { ready: 'False', detail: 'Ready=False' });
  // A node still registering has no Ready condition: not a lost node.
  assert.deepEqual(nodeReadiness(node(undefined)), { ready: undefined });
  assert.deepEqual(nodeReadiness({ metadata: { name: 'x' } }), { ready: undefined });
});
