/**
 * The kubernetes backend against a real kube-apiserver, with the scheduler's ServiceAccount token
 * (RBAC from manifests/), the test kubelet playing five nodes (three runtimes/cgroup shapes, one
 * whose image pulls fail, one with no kubelet) and the real runner (real BPF) in the runner pods.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeJobSpec } from '../../contracts/index.ts';
import { NoMatchingTargetError, type NodePlan, type RunContext } from '../../scheduler/src/backend.ts';
import { KubernetesBackend, type KubernetesBackendOptions } from '../../scheduler/src/kubernetes/kubernetes-backend.ts';
import { CoreV1Api, type V1Pod } from '../../scheduler/src/kubernetes/kubernetes-client.ts';
import { PodWatch } from '../../scheduler/src/kubernetes/pod-watch.ts';
import { InvalidTargetError } from '../../scheduler/src/kubernetes/resolve-targets.ts';
import { buildRunnerPod, buildRunnerSecrets, DEFAULT_RUNNER_POD_CONFIG, runnerSelector, type RunnerPodConfig } from '../../scheduler/src/kubernetes/runner-pod.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';
import { startTestCluster, type TestCluster } from './cluster-fixture.ts';
import { controlPlaneSkipReason, repoRoot, serviceAccountToken } from './control-plane.ts';
import { TcpProxy } from './tcp-proxy.ts';
import { TestKubelet } from './test-kubelet.ts';
import { UploadReceiver } from './upload-receiver.ts';
import { createWorkloadPods, waitFor } from './workload-pods.ts';

const skip = controlPlaneSkipReason();
const kernelSkip = skip ?? kernelTestSkipReason();
const RUNNERS = 'tracejob-runners';

let cluster: TestCluster;
let kubelet: TestKubelet;
let parent: TestCgroup | undefined;
let receiver: UploadReceiver;

const podConfig: RunnerPodConfig = { ...DEFAULT_RUNNER_POD_CONFIG, image: 'tracejob-runner:test', graceSeconds: 30, terminationGraceSeconds: 10 };

function backendOptions(extra: Partial<KubernetesBackendOptions> = {}): KubernetesBackendOptions {
  return { kubeConfig: cluster.scheduler, pod: podConfig, startTimeoutSeconds: 5, limits: { perNode: 2, total: 20 }, ...extra };
}

before(async () => {
  if (skip) return;
  cluster = await startTestCluster(['shop']);
  receiver = new UploadReceiver();
  await receiver.start();
  if (!kernelSkip) parent = createTestCgroup(uniqueCgroupPath('k8s-backend'));
  kubelet = new TestKubelet({
    kubeConfig: cluster.admin,
    cgroupParent: parent?.relPath ?? 'unused',
    runWorkloads: !kernelSkip,
    nodes: [
      { name: 'node-a', runtime: 'containerd', cgroupDriver: 'systemd' },
      { name: 'node-b', runtime: 'cri-o', cgroupDriver: 'systemd' },
      { name: 'node-c', runtime: 'docker', cgroupDriver: 'cgroupfs' },
      { name: 'node-pull', failImagePulls: ['tracejob-runner:test'] },
      { name: 'node-gone', unserved: true },
    ],
    mapRunnerCommand: (argv) => (argv[0] === 'tracejob-runner' ? [process.execPath, join(repoRoot, 'bin', 'tracejob-runner.js'), ...argv.slice(1)] : argv),
    log: process.env.TRACEJOB_TEST_VERBOSE ? (l) => console.error(l) : undefined,
  });
  await kubelet.start();
  await createWorkloadPods(cluster.admin, 'shop', [
    { name: 'web-a', node: 'node-a', labels: { app: 'web' }, containers: ['web', 'sidecar'] },
    { name: 'web-b', node: 'node-b', labels: { app: 'web' }, containers: ['web'] },
    { name: 'db-a', node: 'node-a', labels: { app: 'db' }, containers: ['db'] },
    { name: 'legacy-c', node: 'node-c', labels: { app: 'legacy' }, containers: ['app'] },
  ]);
});

after(async () => {
  await kubelet?.stop();
  await parent?.destroy();
  await receiver?.stop();
  await cluster?.stop();
});

function traceId(): string {
  return `tr-${randomBytes(5).toString('hex')}`;
}

function jobsFor(id: string, plans: NodePlan[], durationSeconds: number): NodeJobSpec[] {
  return plans.map((p) => ({
    traceId: id,
    node: p.node,
    gadget: 'exec',
    params: {},
    durationSeconds,
    maxEvents: 100_000,
    targets: p.targets,
    upload: { url: `${receiver.url}/v1/traces/${id}/nodes/${p.node}/result`, token: `tok-${id}-${p.node}` },
  }));
}

function context(signal = new AbortController().signal): RunContext & { running: string[] } {
  const running: string[] = [];
  return { signal, running, onNodeRunning: (n) => running.push(n) };
}

async function runnerObjects(id?: string): Promise<{ pods: V1Pod[]; secrets: number }> {
  const core = cluster.admin.makeApiClient(CoreV1Api);
  const pods = await core.listNamespacedPod({ namespace: RUNNERS, labelSelector: runnerSelector(id) });
  const secrets = await core.listNamespacedSecret({ namespace: RUNNERS, labelSelector: runnerSelector(id) });
  return { pods: pods.items, secrets: secrets.items.length };
}

async function assertAllGone(id: string): Promise<void> {
  await waitFor(async () => {
    const left = await runnerObjects(id);
    return left.pods.length === 0 && left.secrets === 0;
  }, 15_000, `runner pods and Secret of ${id} to be gone`);
}

test('target resolution: labels, pod name, container name, node name; three runtimes', { skip }, async () => {
  const backend = new KubernetesBackend(backendOptions());
  try {
    const web = await backend.resolveTargets({ namespace: 'shop', labelSelector: 'app=web' });
    assert.deepEqual(web.map((p) => p.node), ['node-a', 'node-b']);
    const a = web[0]!.targets.containers!;
    assert.deepEqual(a.map((c) => `${c.pod}/${c.container}/${c.runtime}`), ['web-a/sidecar/containerd', 'web-a/web/containerd']);
    assert.equal(a[1]!.containerId, kubelet.containerId('shop', 'web-a', 'web'));
    assert.ok(a[1]!.podUid && !a[1]!.containerId.includes('://'));
    assert.equal(web[1]!.targets.containers![0]!.runtime, 'cri-o');

    const legacy = await backend.resolveTargets({ namespace: 'shop', labelSelector: 'app=legacy' });
    assert.equal(legacy[0]!.targets.containers![0]!.runtime, 'docker');

    const byPod = await backend.resolveTargets({ namespace: 'shop', podName: 'db-a' });
    assert.deepEqual(byPod.map((p) => p.targets.containers!.map((c) => c.pod)), [['db-a']]);

    const byContainer = await backend.resolveTargets({ namespace: 'shop', labelSelector: 'app=web', containerName: 'sidecar' });
    assert.deepEqual(byContainer.map((p) => [p.node, p.targets.containers!.map((c) => c.container)]), [['node-a', ['sidecar']]]);

    const byNode = await backend.resolveTargets({ namespace: 'shop', nodeName: 'node-a' });
    assert.deepEqual(byNode[0]!.targets.containers!.map((c) => c.pod).sort(), ['db-a', 'web-a', 'web-a']);
  } finally {
    await backend.close();
  }
});

test('no match is a NoMatchingTargetError naming the target; a bad selector names the field', { skip }, async () => {
  const backend = new KubernetesBackend(backendOptions());
  try {
    await assert.rejects(backend.resolveTargets({ namespace: 'shop', labelSelector: 'app=nothing' }), (err: unknown) => {
      assert.ok(err instanceof NoMatchingTargetError);
      assert.equal(err.message, 'no running pod matches namespace "shop", labelSelector "app=nothing"');
      return true;
    });
    await assert.rejects(backend.resolveTargets({ namespace: 'shop', labelSelector: 'app=web', containerName: 'nope' }), /no running pod with a running container named "nope" matches/);
    await assert.rejects(backend.resolveTargets({ namespace: 'empty-ns', podName: 'x' }), NoMatchingTargetError);
    await assert.rejects(backend.resolveTargets({ namespace: 'shop', labelSelector: 'app in (' }), (err: unknown) => {
      assert.ok(err instanceof InvalidTargetError);
      assert.equal(err.field, 'target.labelSelector');
      return true;
    });
  } finally {
    await backend.close();
  }
});

test('exec trace on two nodes: one runner pod each, uploads, events attributed, nothing left behind', { skip: kernelSkip }, async () => {
  const backend = new KubernetesBackend(backendOptions());
  try {
    const id = traceId();
    const plans = await backend.resolveTargets({ namespace: 'shop', labelSelector: 'app=web' });
    const ctx = context();
    const outcomes = await backend.run(jobsFor(id, plans, 3), ctx);
    assert.deepEqual(outcomes, [
      { node: 'node-a', status: 'succeeded', exitCode: 0 },
      { node: 'node-b', status: 'succeeded', exitCode: 0 },
    ]);
    assert.deepEqual(ctx.running.sort(), ['node-a', 'node-b']);
    const a = receiver.forNode(id, 'node-a');
    const b = receiver.forNode(id, 'node-b');
    assert.ok(a && b, 'both nodes uploaded');
    assert.equal(a.token, `tok-${id}-node-a`);
    assert.ok(a.events.length > 0 && b.events.length > 0, `events from both nodes (${a.events.length}, ${b.events.length})`);
    for (const e of a.events) assert.ok(e.pod === 'web-a' && (e.container === 'web' || e.container === 'sidecar'), `node-a event from ${e.pod}/${e.container}`);
    for (const e of b.events) assert.ok(e.pod === 'web-b' && e.container === 'web', `node-b event from ${e.pod}/${e.container}`);
    assert.ok(!a.events.some((e) => e.pod === 'db-a'));
    const dbCgroups = new Set(kubelet.cgroupIds('shop', 'db-a'));
    assert.ok(!a.events.some((e) => dbCgroups.has(e.cgroupId)), 'no event from the db pod cgroup');
    assert.equal(kubelet.runnerStarts.size >= 2, true);
    await assertAllGone(id);
  } finally {
    await backend.close();
  }
});

test('a node whose runner pod stays Pending fails with the reason, one with no Node object at once; the others go on', { skip: kernelSkip }, async () => {
  const backend = new KubernetesBackend(backendOptions({ startTimeoutSeconds: 4 }));
  try {
    const id = traceId();
    const plans = await backend.resolveTargets({ namespace: 'shop', podName: 'web-a' });
    const fake = { containers: [{ containerId: 'f'.repeat(64), runtime: 'containerd' as const }] };
    const jobs = jobsFor(id, [...plans, { node: 'node-pull', targets: fake }, { node: 'node-gone', targets: fake }, { node: 'node-never-registered', targets: fake }], 3);
    const outcomes = await backend.run(jobs, context());
    const byNode = new Map(outcomes.map((o) => [o.node, o]));
    assert.equal(byNode.get('node-a')?.status, 'succeeded');
    assert.equal(byNode.get('node-pull')?.status, 'failed');
    assert.match(byNode.get('node-pull')!.error!, /still Pending after 4s on node node-pull: ImagePullBackOff: Back-off pulling image "tracejob-runner:test"/);
    assert.equal(byNode.get('node-gone')?.status, 'failed');
    assert.match(byNode.get('node-gone')!.error!, /still Pending after 4s on node node-gone: no kubelet reported/);
    assert.equal(byNode.get('node-never-registered')?.status, 'failed');
    assert.equal(byNode.get('node-never-registered')!.error, 'node node-never-registered does not exist (no Node object): no runner can run there');
    await assertAllGone(id);
  } finally {
    await backend.close();
  }
});

test('cancel mid-trace deletes the pods; runners upload what they saw on SIGTERM', { skip: kernelSkip }, async () => {
  const backend = new KubernetesBackend(backendOptions());
  try {
    const id = traceId();
    const plans = await backend.resolveTargets({ namespace: 'shop', labelSelector: 'app=web' });
    const ctl = new AbortController();
    const ctx = context(ctl.signal);
    const started = Date.now();
    const run = backend.run(jobsFor(id, plans, 120), ctx);
    await waitFor(() => ctx.running.length === 2, 30_000, 'both runners running');
    await sleep(2500); // let the runners attach and see some execs
    ctl.abort();
    const outcomes = await run;
    assert.deepEqual(outcomes.map((o) => o.status), ['cancelled', 'cancelled']);
    assert.ok(Date.now() - started < 60_000, 'ended long before the 120 s duration');
    for (const node of ['node-a', 'node-b']) {
      const r = receiver.forNode(id, node);
      assert.ok(r, `${node} uploaded on SIGTERM`);
      assert.ok(r.summary && r.summary.stopReason !== 'deadline', `stop reason ${r.summary?.stopReason}`);
    }
    await assertAllGone(id);
  } finally {
    await backend.close();
  }
});

test('a scheduler restarted mid-trace adopts the runner pods: no duplicate, trace completes', { skip: kernelSkip }, async () => {
  const id = traceId();
  const first = new KubernetesBackend(backendOptions());
  const plans = await first.resolveTargets({ namespace: 'shop', labelSelector: 'app=web' });
  const jobs = jobsFor(id, plans, 5);
  const uids = new Map<string, Set<string>>();
  const observer = new PodWatch({
    kubeConfig: cluster.admin,
    namespace: RUNNERS,
    labelSelector: runnerSelector(id),
    onPod: (_t, pod) => {
      const set = uids.get(pod.metadata!.name!) ?? new Set<string>();
      set.add(pod.metadata!.uid!);
      uids.set(pod.metadata!.name!, set);
    },
  });
  await observer.start();
  const ctx1 = context();
  const firstRun = first.run(jobs, ctx1);
  await waitFor(() => ctx1.running.length === 2, 30_000, 'both runners running');
  const firstEnd = firstRun.then(
    () => 'resolved',
    (err: unknown) => (err as Error).message,
  );
  await first.close(); // the scheduler goes away; its pods stay
  assert.match(await firstEnd, /closed/);
  assert.equal((await runnerObjects(id)).pods.length, 2, 'pods survive the scheduler');

  const second = new KubernetesBackend(backendOptions());
  try {
    const outcomes = await second.run(jobs, context());
    assert.deepEqual(outcomes.map((o) => o.status), ['succeeded', 'succeeded']);
    assert.equal(uids.size, 2);
    for (const [name, set] of uids) {
      assert.equal(set.size, 1, `one pod ever for ${name}`);
      assert.equal(kubelet.runnerStarts.get(name), 1, `runner of ${name} started once`);
    }
    assert.ok(receiver.forNode(id, 'node-a') && receiver.forNode(id, 'node-b'));
    await assertAllGone(id);
  } finally {
    await observer.stop();
    await second.close();
  }
});

test('the trace completes across watch reconnects: 1 s server timeouts and a network partition', { skip: kernelSkip }, async () => {
  // The scheduler reaches the apiserver through a proxy that can cut the network.
  const proxy = new TcpProxy({ host: '127.0.0.1', port: Number(new URL(cluster.cp.server).port) });
  await proxy.start();
  const token = await serviceAccountToken(cluster.admin, 'tracejob', 'tracejob-scheduler');
  const backend = new KubernetesBackend(backendOptions({ watchTimeoutSeconds: 1, kubeConfig: cluster.cp.kubeConfigWithToken(token, `https://127.0.0.1:${proxy.port}`) }));
  try {
    const id = traceId();
    const plans = await backend.resolveTargets({ namespace: 'shop', labelSelector: 'app=web' });
    const ctx = context();
    const run = backend.run(jobsFor(id, plans, 5), ctx);
    await waitFor(() => ctx.running.length > 0, 30_000, 'a runner running');
    proxy.partition();
    await sleep(1500);
    proxy.heal();
    await sleep(500);
    const stats = backend.watchStats(id);
    const outcomes = await run;
    assert.deepEqual(outcomes.map((o) => o.status), ['succeeded', 'succeeded']);
    assert.ok(stats && stats.reconnects >= 2, `reconnects: ${JSON.stringify(stats)}`);
    assert.ok(stats.errors >= 1, `the partition was felt: ${JSON.stringify(stats)}`);
    await assertAllGone(id);
  } finally {
    await backend.close();
    await proxy.stop();
  }
});

test('limits: at most N runner pods at once; the rest wait and still run', { skip: kernelSkip }, async () => {
  const backend = new KubernetesBackend(backendOptions({ limits: { perNode: 1, total: 1 } }));
  let maxAlive = 0;
  const alive = new Set<string>();
  const id = traceId();
  const watch = new PodWatch({
    kubeConfig: cluster.admin,
    namespace: RUNNERS,
    labelSelector: runnerSelector(id),
    onPod: (type, pod) => {
      const ended = type === 'DELETED' || pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
      if (ended) alive.delete(pod.metadata!.name!);
      else alive.add(pod.metadata!.name!);
      maxAlive = Math.max(maxAlive, alive.size);
    },
  });
  await watch.start();
  try {
    const plans = await backend.resolveTargets({ namespace: 'shop', labelSelector: 'app=web' });
    const outcomes = await backend.run(jobsFor(id, plans, 2), context());
    assert.deepEqual(outcomes.map((o) => o.status), ['succeeded', 'succeeded']);
    assert.equal(maxAlive, 1);
  } finally {
    await watch.stop();
    await backend.close();
  }
});

test('the sweeper deletes runner pods and Secrets of traces that are not active', { skip }, async () => {
  const admin = cluster.admin.makeApiClient(CoreV1Api);
  for (const id of ['orphan-1', 'active-1']) {
    const job: NodeJobSpec = { traceId: id, node: 'node-gone', gadget: 'exec', params: {}, durationSeconds: 30, maxEvents: 10, targets: {} };
    await admin.createNamespacedSecret({ namespace: RUNNERS, body: buildRunnerSecrets([job], RUNNERS).secrets[0]! });
    await admin.createNamespacedPod({ namespace: RUNNERS, body: buildRunnerPod(job, podConfig) });
  }
  const backend = new KubernetesBackend(backendOptions());
  try {
    const deleted = await backend.sweep(new Set(['active-1']));
    assert.equal(deleted, 2);
    await waitFor(async () => (await runnerObjects('orphan-1')).pods.length === 0, 10_000, 'orphan pod gone');
    assert.equal((await runnerObjects('orphan-1')).secrets, 0);
    const active = await runnerObjects('active-1');
    assert.equal(active.pods.length, 1);
    assert.equal(active.secrets, 1);
    assert.equal(await backend.sweep(new Set()), 2, 'a later sweep with no active trace takes the rest');
  } finally {
    await backend.close();
  }
});

test('configured for another namespace, the scheduler is refused by RBAC with a clear error', { skip }, async () => {
  const backend = new KubernetesBackend(backendOptions({ pod: { ...podConfig, namespace: 'shop' } }));
  try {
    const id = traceId();
    const jobs = jobsFor(id, [{ node: 'node-a', targets: {} }], 3);
    await assert.rejects(backend.run(jobs, context()), /cannot create the runner Secret in namespace shop: .*forbidden/);
    const core = cluster.admin.makeApiClient(CoreV1Api);
    assert.equal((await core.listNamespacedPod({ namespace: 'shop', labelSelector: runnerSelector(id) })).items.length, 0);
  } finally {
    await backend.close();
  }
});
