/**
 * A node that dies mid-trace, end to end: the API and the scheduler (TraceWorker + kubernetes
 * backend, ServiceAccount tokens with the RBAC of manifests/), a real redis-server, a real
 * kube-apiserver, the real runner (real BPF) in the runner pods, and the test kubelet playing the
 * nodes — and, on the test's command, their death (killNode) and the Ready condition that the
 * kubelet or the node lifecycle controller would post (setNodeReady).
 *
 * What a user relies on: the trace ends soon, not at the scheduler's last-resort timeout; it is
 * `partial` with a reason naming the dead node while the other nodes' results are kept, or
 * `failed` when every node died; the dead node's runner pod and its spec in the Secret are gone
 * while the rest of the trace still runs; a node that is NotReady only briefly (within the
 * configured grace) does not cost the trace anything.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import type { TraceEvent } from '../../contracts/index.ts';
import { KubernetesBackend } from '../../scheduler/src/kubernetes/kubernetes-backend.ts';
import { CoreV1Api } from '../../scheduler/src/kubernetes/kubernetes-client.ts';
import { DEFAULT_RUNNER_POD_CONFIG, runnerPodName, runnerSecretName, runnerSelector, specKey } from '../../scheduler/src/kubernetes/runner-pod.ts';
import { kubernetesTargetCheck } from '../../scheduler/src/kubernetes/target-check.ts';
import { startAppFixture, type AppFixture } from '../support/app-fixture.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';
import { startTestRedis, type TestRedis } from '../support/redis.ts';
import { startTestCluster, type TestCluster } from './cluster-fixture.ts';
import { controlPlaneSkipReason, repoRoot, serviceAccountToken } from './control-plane.ts';
import { TestKubelet } from './test-kubelet.ts';
import { createWorkloadPods, waitFor } from './workload-pods.ts';
import { startTestTraceWorker } from '../support/trace-worker.ts';

const skip = controlPlaneSkipReason() ?? kernelTestSkipReason();
const RUNNERS = 'tracejob-runners';

let cluster: TestCluster;
let kubelet: TestKubelet;
let parent: TestCgroup;
let redis: TestRedis;
let api: AppFixture;
let url: string;
let core: CoreV1Api;

before(async () => {
  if (skip) return;
  cluster = await startTestCluster(['shop']);
  core = cluster.admin.makeApiClient(CoreV1Api);
  parent = createTestCgroup(uniqueCgroupPath('k8s-node-loss'));
  kubelet = new TestKubelet({
    kubeConfig: cluster.admin,
    cgroupParent: parent.relPath,
    nodes: [
      { name: 'steady', runtime: 'containerd', cgroupDriver: 'systemd' },
      { name: 'dies-1', runtime: 'cri-o', cgroupDriver: 'cgroupfs' },
      { name: 'deleted-2', runtime: 'containerd', cgroupDriver: 'cgroupfs' },
      { name: 'flaps-3', runtime: 'containerd', cgroupDriver: 'systemd' },
      { name: 'dies-4a', runtime: 'containerd', cgroupDriver: 'systemd' },
      { name: 'dies-4b', runtime: 'docker', cgroupDriver: 'cgroupfs' },
      { name: 'collected-5', runtime: 'containerd', cgroupDriver: 'systemd' },
    ],
    mapRunnerCommand: (argv) => (argv[0] === 'tracejob-runner' ? [process.execPath, join(repoRoot, 'bin', 'tracejob-runner.js'), ...argv.slice(1)] : argv),
    log: process.env.TRACEJOB_TEST_VERBOSE ? (l) => console.error(l) : undefined,
  });
  await kubelet.start();
  await createWorkloadPods(cluster.admin, 'shop', [
    { name: 'web-steady-1', node: 'steady', labels: { case: 'notready' }, containers: ['web'] },
    { name: 'web-dies-1', node: 'dies-1', labels: { case: 'notready' }, containers: ['web'] },
    { name: 'web-steady-2', node: 'steady', labels: { case: 'deleted' }, containers: ['web'] },
    { name: 'web-deleted-2', node: 'deleted-2', labels: { case: 'deleted' }, containers: ['web'] },
    { name: 'web-steady-3', node: 'steady', labels: { case: 'flap' }, containers: ['web'] },
    { name: 'web-flaps-3', node: 'flaps-3', labels: { case: 'flap' }, containers: ['web'] },
    { name: 'web-dies-4a', node: 'dies-4a', labels: { case: 'all-lost' }, containers: ['web'] },
    { name: 'web-dies-4b', node: 'dies-4b', labels: { case: 'all-lost' }, containers: ['web'] },
    { name: 'web-steady-5', node: 'steady', labels: { case: 'collected' }, containers: ['web'] },
    { name: 'web-collected-5', node: 'collected-5', labels: { case: 'collected' }, containers: ['web'] },
  ]);
  redis = await startTestRedis();
  const apiKubeConfig = cluster.cp.kubeConfigWithToken(await serviceAccountToken(cluster.admin, 'tracejob', 'tracejob-api'));
  api = await startAppFixture({ BACKEND: 'kubernetes', NODE_NAME: 'api' }, { redis, checkTarget: kubernetesTargetCheck(apiKubeConfig) });
  await api.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = api.app.server.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

after(async () => {
  await api?.app.close();
  await api?.close();
  await redis?.close();
  await kubelet?.stop();
  await parent?.destroy();
  await cluster?.stop();
});

interface LogLine {
  msg: string;
  node?: string;
  traceId?: string;
  [k: string]: unknown;
}

interface Scheduler {
  backend: KubernetesBackend;
  logs: LogLine[];
  close(): Promise<void>;
}

/** A scheduler (TraceWorker + kubernetes backend with the scheduler's token) for one test; its logs kept. */
async function startScheduler(nodeLostGraceSeconds?: number): Promise<Scheduler> {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as LogLine);
      cb();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const backend = new KubernetesBackend({
    kubeConfig: cluster.scheduler,
    pod: { ...DEFAULT_RUNNER_POD_CONFIG, image: 'tracejob-runner:node-loss', graceSeconds: 30, terminationGraceSeconds: 10 },
    startTimeoutSeconds: 20,
    limits: { perNode: 2, total: 50 },
    logger: logger.child({ component: 'kubernetes-backend' }),
    ...(nodeLostGraceSeconds === undefined ? {} : { nodeLostGraceSeconds }),
  });
  const worker = await startTestTraceWorker({ redisUrl: redis.url, config: api.config, backend, uploadUrl: url, logger: logger.child({ component: 'scheduler' }) });
  return {
    backend,
    logs,
    close: async () => {
      await worker.close();
      await backend.close();
    },
  };
}

type NodeView = { node: string; status: string; events: number; error?: string; tracingSince?: string };
type TraceView = { status: string; error?: string; nodes: NodeView[] };

async function view(id: string): Promise<TraceView> {
  return (await (await fetch(`${url}/v1/traces/${id}`)).json()) as TraceView;
}

async function ended(id: string, timeoutMs: number): Promise<TraceView> {
  return waitFor(async () => {
    const t = await view(id);
    return ['succeeded', 'partial', 'failed', 'cancelled'].includes(t.status) ? t : undefined;
  }, timeoutMs, `trace ${id} to end`);
}

async function startTrace(selector: string, durationSeconds: number): Promise<string> {
  const res = await fetch(`${url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ gadget: 'exec', durationSeconds, target: { namespace: 'shop', labelSelector: selector } }),
  });
  const json = (await res.json()) as { id?: string };
  assert.equal(res.status, 202, JSON.stringify(json));
  return json.id!;
}

/** Waits until the runners on `nodes` trace (their gadgets attached: progress reports arrived). */
async function tracingOn(id: string, nodes: string[]): Promise<void> {
  await waitFor(async () => {
    const t = await view(id);
    return nodes.every((n) => t.nodes.some((s) => s.node === n && s.status === 'running' && s.tracingSince));
  }, 60_000, `runners tracing on ${nodes.join(', ')}`);
}

async function podExists(name: string): Promise<boolean> {
  return (await core.listNamespacedPod({ namespace: RUNNERS, fieldSelector: `metadata.name=${name}` })).items.length > 0;
}

/** The keys of the trace's Secret, or undefined once it is gone. */
async function secretKeys(id: string): Promise<string[] | undefined> {
  const list = await core.listNamespacedSecret({ namespace: RUNNERS, fieldSelector: `metadata.name=${runnerSecretName(id)}` });
  const secret = list.items[0];
  return secret ? Object.keys(secret.data ?? {}).sort() : undefined;
}

async function noRunnerObjectsLeft(id: string): Promise<void> {
  await waitFor(async () => {
    const pods = await core.listNamespacedPod({ namespace: RUNNERS, labelSelector: runnerSelector(id) });
    const secrets = await core.listNamespacedSecret({ namespace: RUNNERS, labelSelector: runnerSelector(id) });
    return pods.items.length === 0 && secrets.items.length === 0;
  }, 15_000, `runner pods and Secret of ${id} gone`);
}

async function eventsOf(id: string): Promise<TraceEvent[]> {
  const text = await (await fetch(`${url}/v1/traces/${id}/events`)).text();
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as TraceEvent);
}

/**
 * While the steady node's runner still traces: the dead node's pod is gone and its spec has left
 * the Secret (the steady node's stays). The loss is handled at once, not when the trace ends.
 */
async function lossHandledMidTrace(id: string, dead: string): Promise<void> {
  await waitFor(async () => !(await podExists(runnerPodName(id, dead))) && (await secretKeys(id))?.join() === specKey('steady'), 30_000, `runner pod and spec of ${dead} gone`);
  const t = await view(id);
  assert.equal(t.status, 'running', `the trace still runs when ${dead}'s loss has been handled: ${JSON.stringify(t)}`);
  assert.equal(t.nodes.find((n) => n.node === 'steady')?.status, 'running');
  assert.ok(await podExists(runnerPodName(id, 'steady')), 'the steady node\'s runner pod is left alone');
}

/** The trace ended partial: the steady node's results are kept, the dead node failed with `reason`. */
async function assertPartial(id: string, dead: string, reason: RegExp): Promise<void> {
  const trace = await ended(id, 90_000);
  assert.equal(trace.status, 'partial', JSON.stringify(trace));
  const byNode = new Map(trace.nodes.map((n) => [n.node, n]));
  assert.equal(byNode.get('steady')?.status, 'succeeded', JSON.stringify(trace.nodes));
  assert.ok((byNode.get('steady')?.events ?? 0) > 0, 'the steady node\'s events are counted');
  assert.equal(byNode.get(dead)?.status, 'failed');
  assert.match(byNode.get(dead)?.error ?? '', reason);
  assert.match(trace.error ?? '', reason, 'the trace\'s reason names the dead node');
  const events = await eventsOf(id);
  assert.ok(events.length > 0, 'the steady node\'s events are kept');
  assert.ok(events.every((e) => e.node === 'steady'), `events only from the node that finished: ${[...new Set(events.map((e) => e.node))].join(', ')}`);
  await noRunnerObjectsLeft(id);
}

test('a node that dies mid-trace (Ready=Unknown): the trace is partial, names the node, keeps the other node\'s events', { skip }, async () => {
  const scheduler = await startScheduler();
  try {
    const id = await startTrace('case=notready', 15);
    await tracingOn(id, ['steady', 'dies-1']);
    await kubelet.killNode('dies-1');
    await kubelet.setNodeReady('dies-1', 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.');
    await lossHandledMidTrace(id, 'dies-1');
    await assertPartial(id, 'dies-1', /node dies-1 became NotReady during the trace \(Ready=Unknown, NodeStatusUnknown: Kubelet stopped posting node status\.\); its results are lost/);
    assert.ok(scheduler.logs.some((l) => l.msg === 'runner lost with its node' && l.node === 'dies-1' && l.traceId === id), 'a structured log line with the trace id says so');
  } finally {
    await scheduler.close();
  }
});

test('a node deleted mid-trace: the trace is partial, names the node, keeps the other node\'s events', { skip }, async () => {
  const scheduler = await startScheduler();
  try {
    const id = await startTrace('case=deleted', 15);
    await tracingOn(id, ['steady', 'deleted-2']);
    await kubelet.killNode('deleted-2');
    await core.deleteNode({ name: 'deleted-2' });
    await lossHandledMidTrace(id, 'deleted-2');
    await assertPartial(id, 'deleted-2', /node deleted-2 was deleted during the trace; its results are lost/);
  } finally {
    await scheduler.close();
  }
});

test('a node NotReady for a moment, Ready again within the grace period: the trace is unaffected', { skip }, async () => {
  const scheduler = await startScheduler(60);
  try {
    const id = await startTrace('case=flap', 10);
    await tracingOn(id, ['steady', 'flaps-3']);
    await kubelet.setNodeReady('flaps-3', 'False', 'KubeletNotReady', 'PLEG is not healthy: pleg was last seen active 3m0s ago');
    await waitFor(() => scheduler.logs.some((l) => l.node === 'flaps-3' && /is NotReady/.test(l.msg)), 15_000, 'the scheduler to see flaps-3 NotReady');
    await kubelet.setNodeReady('flaps-3', 'True', 'KubeletReady', 'kubelet is posting ready status');
    await waitFor(() => scheduler.logs.some((l) => l.node === 'flaps-3' && /Ready again/.test(l.msg)), 15_000, 'the scheduler to see flaps-3 Ready again');
    const trace = await ended(id, 90_000);
    assert.equal(trace.status, 'succeeded', JSON.stringify(trace));
    assert.deepEqual(trace.nodes.map((n) => [n.node, n.status]).sort(), [['flaps-3', 'succeeded'], ['steady', 'succeeded']]);
    const nodes = new Set((await eventsOf(id)).map((e) => e.node));
    assert.ok(nodes.has('flaps-3') && nodes.has('steady'), `events from both nodes: ${[...nodes].join(', ')}`);
    await noRunnerObjectsLeft(id);
  } finally {
    await scheduler.close();
  }
});

test('every node of the trace dies: the trace fails soon, naming each node, nothing left behind', { skip }, async () => {
  const scheduler = await startScheduler();
  try {
    // 120 s of tracing: the trace must end (waited for below 60 s) because the nodes died, not by time.
    const id = await startTrace('case=all-lost', 120);
    await tracingOn(id, ['dies-4a', 'dies-4b']);
    for (const node of ['dies-4a', 'dies-4b']) {
      await kubelet.killNode(node);
      await kubelet.setNodeReady(node, 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.');
    }
    const trace = await ended(id, 60_000);
    assert.equal(trace.status, 'failed', JSON.stringify(trace));
    for (const node of ['dies-4a', 'dies-4b']) {
      const reason = new RegExp(`node ${node} became NotReady during the trace \\(Ready=Unknown, NodeStatusUnknown: Kubelet stopped posting node status\\.\\); its results are lost`);
      assert.match(trace.nodes.find((n) => n.node === node)?.error ?? '', reason);
      assert.match(trace.error ?? '', reason);
    }
    assert.deepEqual(trace.nodes.map((n) => n.status), ['failed', 'failed']);
    await noRunnerObjectsLeft(id);
  } finally {
    await scheduler.close();
  }
});

test('a runner pod the control plane gives up with its node (pod GC) ends that node at once, even with the Node still Ready', { skip }, async () => {
  const scheduler = await startScheduler();
  try {
    const id = await startTrace('case=collected', 15);
    await tracingOn(id, ['steady', 'collected-5']);
    await kubelet.killNode('collected-5');
    // The Node object still says Ready (no watch of Nodes would notice): only the pod tells.
    await kubelet.markPodCollected(RUNNERS, runnerPodName(id, 'collected-5'));
    await lossHandledMidTrace(id, 'collected-5');
    const pod = runnerPodName(id, 'collected-5');
    await assertPartial(id, 'collected-5', new RegExp(`runner pod ${pod} was given up with its node collected-5 \\(DeletionByPodGC: PodGC: node no longer exists\\); its results are lost`));
  } finally {
    await scheduler.close();
  }
});
