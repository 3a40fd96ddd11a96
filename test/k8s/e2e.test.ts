/**
 * End to end on Kubernetes: the API (Fastify) and the scheduler (BullMQ worker) with the
 * kubernetes backend, a real redis-server, a real kube-apiserver with tracejob's RBAC applied —
 * the scheduler and the API use their ServiceAccount tokens, not admin — the test kubelet
 * playing two nodes, and the real runner (real BPF) in the runner pods.
 *
 * POST /v1/traces {gadget: exec, target: {namespace: shop, labelSelector: app=web}} with web pods
 * on two nodes and a db pod beside one of them → two runner pods, results uploaded, trace
 * succeeded, events attributed to the right pod/container on each node, none from app=db, and
 * no runner pod or Secret left.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startAppFixture, type AppFixture } from '../support/app-fixture.ts';
import type { TraceEvent } from '../../contracts/index.ts';
import { KubernetesBackend } from '../../scheduler/src/kubernetes/kubernetes-backend.ts';
import { CoreV1Api } from '../../scheduler/src/kubernetes/kubernetes-client.ts';
import { DEFAULT_RUNNER_POD_CONFIG, runnerSelector } from '../../scheduler/src/kubernetes/runner-pod.ts';
import { kubernetesTargetCheck } from '../../scheduler/src/kubernetes/target-check.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';
import { startTestRedis, type TestRedis } from '../support/redis.ts';
import { startTestCluster, type TestCluster } from './cluster-fixture.ts';
import { controlPlaneSkipReason, repoRoot, serviceAccountToken } from './control-plane.ts';
import { TestKubelet } from './test-kubelet.ts';
import { createWorkloadPods, waitFor } from './workload-pods.ts';
import { startTestTraceWorker, type TestTraceWorker } from '../support/trace-worker.ts';

const skip = controlPlaneSkipReason() ?? kernelTestSkipReason();

let cluster: TestCluster;
let kubelet: TestKubelet;
let parent: TestCgroup;
let redis: TestRedis;
let api: AppFixture;
let worker: TestTraceWorker;
let backend: KubernetesBackend;
let url: string;

before(async () => {
  if (skip) return;
  cluster = await startTestCluster(['shop']);
  parent = createTestCgroup(uniqueCgroupPath('k8s-e2e'));
  kubelet = new TestKubelet({
    kubeConfig: cluster.admin,
    cgroupParent: parent.relPath,
    nodes: [
      { name: 'node-1', runtime: 'containerd', cgroupDriver: 'systemd' },
      { name: 'node-2', runtime: 'cri-o', cgroupDriver: 'cgroupfs' },
      // The runner image cannot be pulled on this one: its runner pod stays Pending.
      { name: 'node-3', runtime: 'containerd', cgroupDriver: 'systemd', failImagePulls: ['tracejob-runner:e2e'] },
    ],
    mapRunnerCommand: (argv) => (argv[0] === 'tracejob-runner' ? [process.execPath, join(repoRoot, 'bin', 'tracejob-runner.js'), ...argv.slice(1)] : argv),
  });
  await kubelet.start();
  await createWorkloadPods(cluster.admin, 'shop', [
    { name: 'web-1', node: 'node-1', labels: { app: 'web', tier: 'front' }, containers: ['nginx'] },
    { name: 'web-2', node: 'node-2', labels: { app: 'web' }, containers: ['nginx'] },
    { name: 'db-1', node: 'node-1', labels: { app: 'db' }, containers: ['postgres'] },
    { name: 'cache-3', node: 'node-3', labels: { app: 'cache', tier: 'front' }, containers: ['redis'] },
  ]);

  redis = await startTestRedis();
  const apiKubeConfig = cluster.cp.kubeConfigWithToken(await serviceAccountToken(cluster.admin, 'tracejob', 'tracejob-api'));
  api = await startAppFixture({ BACKEND: 'kubernetes', NODE_NAME: 'api' }, { redis, checkTarget: kubernetesTargetCheck(apiKubeConfig) });
  const { app, config } = api;
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;

  backend = new KubernetesBackend({
    kubeConfig: cluster.scheduler,
    pod: { ...DEFAULT_RUNNER_POD_CONFIG, image: 'tracejob-runner:e2e', graceSeconds: 30, terminationGraceSeconds: 10 },
    startTimeoutSeconds: 5,
    limits: { perNode: 2, total: 50 },
  });
  worker = await startTestTraceWorker({ redisUrl: redis.url, config, backend, uploadUrl: url });
});

after(async () => {
  await api?.app.close();
  await worker?.close();
  await backend?.close();
  await api?.close();
  await redis?.close();
  await kubelet?.stop();
  await parent?.destroy();
  await cluster?.stop();
});

type TraceView = { status: string; error?: string; nodes: Array<{ node: string; status: string; events: number; error?: string }> };

async function view(id: string): Promise<TraceView> {
  return (await (await fetch(`${url}/v1/traces/${id}`)).json()) as TraceView;
}

async function ended(id: string, timeoutMs = 90_000): Promise<TraceView> {
  return waitFor(async () => {
    const t = await view(id);
    return ['succeeded', 'partial', 'failed', 'cancelled'].includes(t.status) ? t : undefined;
  }, timeoutMs, `trace ${id} to end`);
}

async function noRunnerObjectsLeft(): Promise<void> {
  const core = cluster.admin.makeApiClient(CoreV1Api);
  await waitFor(
    async () => {
      const pods = await core.listNamespacedPod({ namespace: 'tracejob-runners', labelSelector: runnerSelector() });
      const secrets = await core.listNamespacedSecret({ namespace: 'tracejob-runners', labelSelector: runnerSelector() });
      return pods.items.length === 0 && secrets.items.length === 0;
    },
    15_000,
    'every runner pod and Secret gone',
  );
}

async function post(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

test('POST an exec trace of app=web: two runner pods, results uploaded, events attributed, nothing left', { skip }, async () => {
  const { status, json } = await post({ gadget: 'exec', durationSeconds: 3, target: { namespace: 'shop', labelSelector: 'app=web' } });
  assert.equal(status, 202, JSON.stringify(json));
  const id = json.id as string;
  const seenPods = new Set<string>();
  const core = cluster.admin.makeApiClient(CoreV1Api);
  const trace = await waitFor(
    async () => {
      const pods = await core.listNamespacedPod({ namespace: 'tracejob-runners', labelSelector: runnerSelector(id) });
      for (const p of pods.items) seenPods.add(`${p.spec?.nodeName}/${p.metadata?.name}`);
      const t = (await (await fetch(`${url}/v1/traces/${id}`)).json()) as { status: string; nodes: Array<{ node: string; status: string; events: number; error?: string }> };
      return ['succeeded', 'partial', 'failed', 'cancelled'].includes(t.status) ? t : undefined;
    },
    90_000,
    'the trace to end',
  );
  assert.equal(trace.status, 'succeeded', JSON.stringify(trace));
  assert.deepEqual(trace.nodes.map((n) => [n.node, n.status]).sort(), [['node-1', 'succeeded'], ['node-2', 'succeeded']]);
  assert.ok(trace.nodes.every((n) => n.events > 0), JSON.stringify(trace.nodes));
  assert.deepEqual([...seenPods].map((p) => p.split('/')[0]).sort(), ['node-1', 'node-2'], 'one runner pod per node');

  const text = await (await fetch(`${url}/v1/traces/${id}/events`)).text();
  const events = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as TraceEvent);
  assert.ok(events.length > 0);
  for (const e of events) {
    const expected = e.node === 'node-1' ? 'web-1' : 'web-2';
    assert.equal(e.pod, expected, `event on ${e.node} from ${e.pod}`);
    assert.equal(e.container, 'nginx');
    assert.equal(e.namespace, 'shop');
  }
  assert.ok(events.some((e) => e.node === 'node-1') && events.some((e) => e.node === 'node-2'));
  const db = new Set(kubelet.cgroupIds('shop', 'db-1'));
  assert.ok(!events.some((e) => e.pod === 'db-1' || db.has(e.cgroupId)), 'nothing from app=db');

  await waitFor(
    async () => {
      const pods = await core.listNamespacedPod({ namespace: 'tracejob-runners', labelSelector: runnerSelector() });
      const secrets = await core.listNamespacedSecret({ namespace: 'tracejob-runners', labelSelector: runnerSelector() });
      return pods.items.length === 0 && secrets.items.length === 0;
    },
    15_000,
    'every runner pod and Secret gone',
  );
});

test('POST with a target that matches no running pod is a 422 naming it', { skip }, async () => {
  const { status, json } = await post({ gadget: 'exec', durationSeconds: 3, target: { namespace: 'shop', labelSelector: 'app=nothing' } });
  assert.equal(status, 422);
  assert.equal(json.field, 'target');
  assert.match(json.message as string, /no running pod matches namespace "shop", labelSelector "app=nothing"/);
});

test('one node whose runner pod stays Pending: the trace is partial, with the reason', { skip }, async () => {
  const { status, json } = await post({ gadget: 'exec', durationSeconds: 3, target: { namespace: 'shop', labelSelector: 'tier=front' } });
  assert.equal(status, 202, JSON.stringify(json));
  const trace = await ended(json.id as string);
  assert.equal(trace.status, 'partial', JSON.stringify(trace));
  const byNode = new Map(trace.nodes.map((n) => [n.node, n]));
  assert.equal(byNode.get('node-1')?.status, 'succeeded');
  assert.ok((byNode.get('node-1')?.events ?? 0) > 0);
  assert.equal(byNode.get('node-3')?.status, 'failed');
  assert.match(byNode.get('node-3')?.error ?? '', /still Pending after 5s on node node-3: ImagePullBackOff/);
  await noRunnerObjectsLeft();
});

test('DELETE mid-trace cancels: runner pods deleted, runners upload what they saw, trace cancelled', { skip }, async () => {
  const { status, json } = await post({ gadget: 'exec', durationSeconds: 120, target: { namespace: 'shop', labelSelector: 'app=web' } });
  assert.equal(status, 202);
  const id = json.id as string;
  await waitFor(async () => (await view(id)).nodes.filter((n) => n.status === 'running').length === 2, 60_000, 'both runners running');
  await new Promise((r) => setTimeout(r, 2000));
  const started = Date.now();
  const del = await fetch(`${url}/v1/traces/${id}`, { method: 'DELETE' });
  assert.equal(del.status, 202);
  const trace = await ended(id, 60_000);
  assert.equal(trace.status, 'cancelled');
  assert.ok(Date.now() - started < 30_000, 'cancelled well before the 120 s duration');
  assert.deepEqual(trace.nodes.map((n) => n.status), ['cancelled', 'cancelled']);
  assert.ok(trace.nodes.some((n) => n.events > 0), `what the runners saw was uploaded: ${JSON.stringify(trace.nodes)}`);
  await noRunnerObjectsLeft();
});
