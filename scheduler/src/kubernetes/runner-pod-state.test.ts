import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod } from './kubernetes-client.ts';
import { runnerPodState } from './runner-pod-state.ts';

const pod = (status: V1Pod['status']): V1Pod => ({ metadata: { name: 'p' }, spec: { containers: [{ name: 'runner' }] }, status });

test('pending with no news, unschedulable, image pull failure, permanent errors', () => {
  assert.deepEqual(runnerPodState(pod({ phase: 'Pending' })), { kind: 'pending' });
  assert.deepEqual(runnerPodState(pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' }] })), {
    kind: 'pending',
    reason: 'pod unschedulable: 0/3 nodes are available',
  });
  const pull = runnerPodState(pod({ phase: 'Pending', containerStatuses: [{ name: 'runner', image: 'i', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "i"' } } }] }));
  assert.deepEqual(pull, { kind: 'pending', reason: 'ImagePullBackOff: Back-off pulling image "i"' });
  const bad = runnerPodState(pod({ phase: 'Pending', containerStatuses: [{ name: 'runner', image: 'i', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'InvalidImageName' } } }] }));
  assert.deepEqual(bad, { kind: 'pending', reason: 'InvalidImageName', permanent: true });
  const creating = runnerPodState(pod({ phase: 'Pending', containerStatuses: [{ name: 'runner', image: 'i', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'ContainerCreating' } } }] }));
  assert.deepEqual(creating, { kind: 'pending', reason: 'ContainerCreating' });
});

test('running, succeeded, failed with exit code and message, deadline exceeded', () => {
  assert.deepEqual(runnerPodState(pod({ phase: 'Running' })), { kind: 'running' });
  assert.deepEqual(runnerPodState(pod({ phase: 'Succeeded', containerStatuses: [{ name: 'runner', image: '', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0 } } }] })), { kind: 'succeeded', exitCode: 0 });
  const failed = runnerPodState(pod({ phase: 'Failed', containerStatuses: [{ name: 'runner', image: '', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 4, reason: 'Error', message: 'no target found' } } }] }));
  assert.deepEqual(failed, { kind: 'failed', exitCode: 4, reason: 'runner exited with code 4: no target found' });
  const deadline = runnerPodState(pod({ phase: 'Failed', reason: 'DeadlineExceeded', message: 'too long' }));
  assert.equal(deadline.kind, 'failed');
  assert.match((deadline as { reason: string }).reason, /activeDeadlineSeconds/);
  // Terminated container before the phase catches up.
  assert.deepEqual(runnerPodState(pod({ phase: 'Running', containerStatuses: [{ name: 'runner', image: '', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0 } } }] })), { kind: 'succeeded', exitCode: 0 });
});

test('lost with its node: phase Unknown, failed by pod GC or the taint manager, the legacy NodeLost reason', () => {
  assert.deepEqual(runnerPodState(pod({ phase: 'Unknown' })), { kind: 'lost', reason: 'pod phase Unknown' });
  const gc = pod({
    phase: 'Failed',
    conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByPodGC', message: 'PodGC: node no longer exists' }],
    containerStatuses: [{ name: 'runner', image: '', imageID: '', ready: false, restartCount: 0, state: { running: {} } }],
  });
  assert.deepEqual(runnerPodState(gc), { kind: 'lost', reason: 'DeletionByPodGC: PodGC: node no longer exists' });
  const legacy = pod({ phase: 'Failed', reason: 'NodeLost', message: 'Node worker-3 which was running pod p is unresponsive' });
  assert.deepEqual(runnerPodState(legacy), { kind: 'lost', reason: 'NodeLost: Node worker-3 which was running pod p is unresponsive' });
  // A runner that ended on its own is not lost, nor is a pod disrupted for another reason (preemption).
  const done = pod({ phase: 'Succeeded', conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByPodGC' }], containerStatuses: [{ name: 'runner', image: '', imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 0 } } }] });
  assert.deepEqual(runnerPodState(done), { kind: 'succeeded', exitCode: 0 });
  const preempted = pod({ phase: 'Failed', conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'PreemptionByScheduler' }] });
  assert.equal(runnerPodState(preempted).kind, 'failed');
});
