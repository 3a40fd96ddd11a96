/**
 * PodWatch against a real kube-apiserver whose pod watches go straight to etcd
 * (--watch-cache=false), so that compacting etcd makes old resourceVersions really answer
 * 410 Gone: the watch must list again and go on, delivering what changed meanwhile.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CoreV1Api, type CoreV1Api as CoreApi } from '../../scheduler/src/kubernetes/kubernetes-client.ts';
import { PodWatch, type PodEventType } from '../../scheduler/src/kubernetes/pod-watch.ts';
import { controlPlaneSkipReason, startControlPlane, type ControlPlane } from './control-plane.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { TcpProxy } from './tcp-proxy.ts';
import { waitFor } from './workload-pods.ts';

const skip = controlPlaneSkipReason();
let cp: ControlPlane;
let core: CoreApi;

before(async () => {
  if (skip) return;
  cp = await startControlPlane({ extraApiserverArgs: ['--watch-cache=false'] });
  core = cp.adminKubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: 'w' } } });
  await core.createNamespacedServiceAccount({ namespace: 'w', body: { metadata: { name: 'default' } } });
});
after(async () => {
  await cp?.stop();
});

async function createPod(name: string, app = 'web'): Promise<void> {
  await core.createNamespacedPod({ namespace: 'w', body: { metadata: { name, labels: { app } }, spec: { nodeName: 'nowhere', containers: [{ name: 'c', image: 'x' }] } } });
}

test('410 Gone on resume: the watch lists again, reports pods added and deleted while it was away', { skip }, async () => {
  await createPod('p1');
  await createPod('p2');
  const events: Array<[PodEventType, string]> = [];
  const proxy = new TcpProxy({ host: '127.0.0.1', port: Number(new URL(cp.server).port) });
  await proxy.start();
  const throughProxy = cp.kubeConfigWithToken(cp.adminToken, `https://127.0.0.1:${proxy.port}`);
  const watch = new PodWatch({ kubeConfig: throughProxy, namespace: 'w', labelSelector: 'app=web', timeoutSeconds: 60, retryDelayMs: 100, onPod: (t, p) => events.push([t, p.metadata!.name!]) });
  await watch.start();
  try {
    assert.deepEqual(events.map(([, n]) => n).sort(), ['p1', 'p2']);
    await waitFor(() => watch.stats.watches === 1, 5000, 'the watch request open');
    await createPod('p3');
    await waitFor(() => events.some(([, n]) => n === 'p3'), 5000, 'p3 seen live');

    // The network between the watch and the apiserver fails; meanwhile p1 is deleted, p4 is
    // created and etcd is compacted past what the watch saw. Then the network comes back.
    proxy.partition();
    await core.deleteNamespacedPod({ name: 'p1', namespace: 'w', gracePeriodSeconds: 0 });
    await createPod('p4');
    await createPod('other', 'db');
    await cp.compactEtcd();
    await sleep(500); // a reconnect attempt or two fails
    proxy.heal();
    await waitFor(() => events.some(([t, n]) => t === 'DELETED' && n === 'p1') && events.some(([, n]) => n === 'p4'), 10_000, 'changes delivered after the resume');
    assert.deepEqual([...watch.pods().keys()].sort(), ['p2', 'p3', 'p4']);
    assert.ok(watch.stats.gone >= 1, `the resume met 410 Gone: ${JSON.stringify(watch.stats)}`);
    assert.ok(watch.stats.lists >= 2, 'listed again');
    assert.ok(!events.some(([, n]) => n === 'other'), 'the label selector still applies');
  } finally {
    await watch.stop();
    await proxy.stop();
  }
});

test('a watch started from a compacted resourceVersion lists first', { skip }, async () => {
  await cp.compactEtcd();
  const seen = new Set<string>();
  const watch = new PodWatch({ kubeConfig: cp.adminKubeConfig(), namespace: 'w', labelSelector: 'app=web', startResourceVersion: '2', onPod: (_t, p) => seen.add(p.metadata!.name!) });
  await watch.start();
  try {
    await waitFor(() => watch.stats.gone >= 1 && seen.has('p4'), 10_000, '410 then a list');
    assert.ok(watch.stats.lists >= 1);
  } finally {
    await watch.stop();
  }
});
