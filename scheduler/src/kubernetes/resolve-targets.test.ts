import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod } from './kubernetes-client.ts';
import { plansFromPods, podFieldSelector } from './resolve-targets.ts';

function pod(name: string, node: string | undefined, containers: Array<[string, string | undefined, boolean]>, phase = 'Running'): V1Pod {
  return {
    metadata: { name, namespace: 'shop', uid: `uid-${name}` },
    spec: { nodeName: node, containers: containers.map(([n]) => ({ name: n })) },
    status: {
      phase,
      containerStatuses: containers.map(([n, id, running]) => ({ name: n, containerID: id, image: '', imageID: '', ready: running, restartCount: 0, state: running ? { running: {} } : { waiting: { reason: 'CrashLoopBackOff' } } })),
    },
  };
}

test('containers grouped by node with id, runtime, pod uid, pod, namespace, container', () => {
  const plans = plansFromPods(
    [
      pod('web-2', 'node-b', [['web', 'cri-o://bbb', true]]),
      pod('web-1', 'node-a', [['web', 'containerd://aaa', true], ['sidecar', 'containerd://ccc', true]]),
      pod('web-3', 'node-a', [['web', 'docker://ddd', true]]),
    ],
    { namespace: 'shop' },
  );
  assert.deepEqual(plans.map((p) => p.node), ['node-a', 'node-b']);
  assert.deepEqual(plans[0]!.targets.containers, [
    { containerId: 'ccc', runtime: 'containerd', pod: 'web-1', namespace: 'shop', container: 'sidecar', podUid: 'uid-web-1' },
    { containerId: 'aaa', runtime: 'containerd', pod: 'web-1', namespace: 'shop', container: 'web', podUid: 'uid-web-1' },
    { containerId: 'ddd', runtime: 'docker', pod: 'web-3', namespace: 'shop', container: 'web', podUid: 'uid-web-3' },
  ]);
  assert.deepEqual(plans[1]!.targets.containers?.[0]?.runtime, 'cri-o');
  assert.deepEqual(
    plans[0]!.targets.pods,
    [
      { podUid: 'uid-web-1', pod: 'web-1', namespace: 'shop' },
      { podUid: 'uid-web-3', pod: 'web-3', namespace: 'shop' },
    ],
    'the pods too, so that a container restarting during the trace is followed',
  );
});

test('with a containerName filter the plan names containers only (a pod target would add its sidecars)', () => {
  const plans = plansFromPods([pod('web-1', 'node-a', [['web', 'containerd://aaa', true], ['sidecar', 'containerd://ccc', true]])], { namespace: 'shop', containerName: 'web' });
  assert.deepEqual(plans[0]!.targets.containers?.map((c) => c.containerId), ['aaa']);
  assert.equal(plans[0]!.targets.pods, undefined);
});

test('containerName, podName, nodeName filter; non-running pods and containers, unbound pods are left out', () => {
  const pods = [
    pod('web-1', 'node-a', [['web', 'containerd://aaa', true], ['sidecar', 'containerd://ccc', true]]),
    pod('web-2', 'node-b', [['web', 'containerd://bbb', false]]),
    pod('web-3', undefined, [['web', undefined, false]], 'Pending'),
    pod('web-4', 'node-c', [['web', 'containerd://eee', true]], 'Succeeded'),
  ];
  assert.deepEqual(plansFromPods(pods, { namespace: 'shop', containerName: 'sidecar' }).map((p) => p.targets.containers?.map((c) => c.containerId)), [['ccc']]);
  assert.deepEqual(plansFromPods(pods, { namespace: 'shop', podName: 'web-2' }), []);
  assert.deepEqual(plansFromPods(pods, { namespace: 'shop', nodeName: 'node-b' }), []);
  assert.equal(plansFromPods(pods, { namespace: 'shop' }).length, 1);
});

test('field selector asks the apiserver for running pods by name and node', () => {
  assert.equal(podFieldSelector({ namespace: 'x' }), 'status.phase=Running');
  assert.equal(podFieldSelector({ namespace: 'x', podName: 'p', nodeName: 'n' }), 'status.phase=Running,metadata.name=p,spec.nodeName=n');
});

test('startup: every pod bound to a node (crash-looping or pending) is waited on, whatever its containers do', () => {
  const pods = [
    pod('web-1', 'node-a', [['web', undefined, false]]), // CrashLoopBackOff: no running container
    pod('web-2', 'node-a', [['web', 'containerd://bbb', true]]),
    pod('web-3', 'node-b', [['web', undefined, false]], 'Pending'),
    pod('web-4', undefined, [['web', undefined, false]], 'Pending'), // not scheduled yet
    pod('web-5', 'node-c', [['web', 'containerd://eee', false]], 'Succeeded'),
  ];
  const plans = plansFromPods(pods, { namespace: 'shop', startup: true, startupTimeoutSeconds: 90 });
  assert.deepEqual(plans, [
    { node: 'node-a', targets: { pods: [{ podUid: 'uid-web-1', pod: 'web-1', namespace: 'shop' }, { podUid: 'uid-web-2', pod: 'web-2', namespace: 'shop' }], startup: { timeoutSeconds: 90 } } },
    { node: 'node-b', targets: { pods: [{ podUid: 'uid-web-3', pod: 'web-3', namespace: 'shop' }], startup: { timeoutSeconds: 90 } } },
  ]);
  assert.equal(plansFromPods([pods[0]!], { namespace: 'shop', startup: true })[0]!.targets.startup?.timeoutSeconds, 300, 'the default wait');
  assert.equal(podFieldSelector({ namespace: 'x', startup: true, podName: 'p' }), 'status.phase!=Succeeded,status.phase!=Failed,metadata.name=p');
});
