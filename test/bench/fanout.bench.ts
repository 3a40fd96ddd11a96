/**
 * Fan-out benchmark on Kubernetes: the API and the scheduler (BullMQ worker, kubernetes backend)
 * against a real kube-apiserver and a real redis-server; N fake nodes (10, 50, 200), one running
 * target pod on each. Measures POST /v1/traces → every runner pod created, and the Kubernetes API
 * requests the API (target check) and the scheduler made meanwhile (counted in their clients:
 * every request, watches included). Reference in the same run: the same N pods created one after
 * the other by a plain loop with the same credential (a naive scheduler).
 *
 *   npm run bench:fanout -- --json [--nodes 10,50,200]
 * prints one JSON line per N: {"nodes","podsCreated","secondsToAllCreated","apiRequests",
 * "referenceSequentialSeconds"}. The API and the scheduler use their ServiceAccount tokens (RBAC of
 * manifests/). No kubelet: runner pods stay Pending; each trace is then cancelled (DELETE).
 */
import { randomBytes } from 'node:crypto';
import type { NodeJobSpec } from '../../contracts/index.ts';
import { parseArgs } from 'node:util';
import { startAppFixture } from '../support/app-fixture.ts';
import { kubernetesTargetCheck } from '../../scheduler/src/kubernetes/target-check.ts';
import { startTestRedis } from '../support/redis.ts';
import { KubernetesBackend } from '../../scheduler/src/kubernetes/kubernetes-backend.ts';
import { CoreV1Api, KubeConfig, type V1Pod } from '../../scheduler/src/kubernetes/kubernetes-client.ts';
import { PodWatch } from '../../scheduler/src/kubernetes/pod-watch.ts';
import { buildRunnerPod, DEFAULT_RUNNER_POD_CONFIG, runnerSelector, type RunnerPodConfig } from '../../scheduler/src/kubernetes/runner-pod.ts';
import { startTestCluster } from '../k8s/cluster-fixture.ts';
import { controlPlaneSkipReason, serviceAccountToken } from '../k8s/control-plane.ts';
import { waitFor } from '../k8s/workload-pods.ts';
import { startTestTraceWorker } from '../support/trace-worker.ts';

/** A KubeConfig that counts the requests made with it (every API call and watch authenticates once). */
class CountingKubeConfig extends KubeConfig {
  requests = 0;
  override async applySecurityAuthentication(context: Parameters<KubeConfig['applySecurityAuthentication']>[0]): Promise<void> {
    this.requests += 1;
    return super.applySecurityAuthentication(context);
  }
}

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, nodes: { type: 'string', default: '10,50,200' } } });
const sizes = values.nodes.split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);

const skip = controlPlaneSkipReason();
if (skip) {
  console.error(`bench:fanout skipped: ${skip}`);
  process.exit(0);
}

const RUNNERS = 'tracejob-runners';
const podConfig: RunnerPodConfig = { ...DEFAULT_RUNNER_POD_CONFIG, image: 'tracejob-runner:bench' };
const cluster = await startTestCluster([]);
const admin = cluster.admin.makeApiClient(CoreV1Api);

function counting(kc: KubeConfig): CountingKubeConfig {
  const c = new CountingKubeConfig();
  c.loadFromString(kc.exportConfig());
  return c;
}

// The API and the scheduler, each with its own ServiceAccount token.
const apiKc = counting(cluster.cp.kubeConfigWithToken(await serviceAccountToken(cluster.admin, 'tracejob', 'tracejob-api')));
const schedulerKc = counting(cluster.scheduler);
const redis = await startTestRedis();
const api = await startAppFixture({ BACKEND: 'kubernetes', MAX_DURATION_SECONDS: '3600' }, { redis, checkTarget: kubernetesTargetCheck(apiKc) });
const { app, config } = api;
await app.listen({ port: 0, host: '127.0.0.1' });
const addr = app.server.address();
const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
const backend = new KubernetesBackend({ kubeConfig: schedulerKc, pod: podConfig, startTimeoutSeconds: 3600, limits: { perNode: 2, total: 10_000 } });
const worker = await startTestTraceWorker({ redisUrl: redis.url, config, backend, uploadUrl: url, concurrency: 1 });

async function setUpTargets(n: number, namespace: string): Promise<void> {
  await admin.createNamespace({ body: { metadata: { name: namespace } } });
  await admin.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
  const create = async (i: number) => {
    const node = `fanout-${n}-node-${i}`;
    await admin.createNode({ body: { metadata: { name: node } } });
    const pod = await admin.createNamespacedPod({ namespace, body: { metadata: { name: `target-${i}`, labels: { app: 'target' } }, spec: { nodeName: node, containers: [{ name: 'app', image: 'example/app:1' }] } } });
    // What the kubelet would report: running, with a containerd container id.
    pod.status = { phase: 'Running', containerStatuses: [{ name: 'app', containerID: `containerd://${randomBytes(32).toString('hex')}`, image: 'example/app:1', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: new Date() } } }] };
    await admin.replaceNamespacedPodStatus({ name: `target-${i}`, namespace, body: pod });
  };
  for (let i = 0; i < n; i += 20) await Promise.all(Array.from({ length: Math.min(20, n - i) }, (_, k) => create(i + k)));
}

async function deleteRunnerPods(selector: string): Promise<void> {
  const list = await admin.listNamespacedPod({ namespace: RUNNERS, labelSelector: selector });
  await Promise.all(list.items.map((p) => admin.deleteNamespacedPod({ name: p.metadata!.name!, namespace: RUNNERS, gracePeriodSeconds: 0 }).catch(() => undefined)));
}

try {
  for (const n of sizes) {
    const namespace = `fanout-${n}`;
    await setUpTargets(n, namespace);

    const created = new Set<string>();
    const observer = new PodWatch({ kubeConfig: cluster.admin, namespace: RUNNERS, labelSelector: runnerSelector(), onPod: (type, pod: V1Pod) => type !== 'DELETED' && created.add(pod.metadata!.name!) });
    await observer.start();
    const requestsBefore = apiKc.requests + schedulerKc.requests;
    const started = process.hrtime.bigint();
    const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ gadget: 'exec', durationSeconds: 600, target: { namespace, labelSelector: 'app=target' } }) });
    if (res.status !== 202) throw new Error(`POST /v1/traces: ${res.status} ${await res.text()}`);
    const traceId = ((await res.json()) as { id: string }).id;
    await waitFor(() => created.size >= n, 300_000, `${n} runner pods`);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const apiRequests = apiKc.requests + schedulerKc.requests - requestsBefore;
    await observer.stop();

    // Cancel: the never-started pods are deleted; wait for the trace to end.
    await fetch(`${url}/v1/traces/${traceId}`, { method: 'DELETE' });
    await waitFor(async () => ((await (await fetch(`${url}/v1/traces/${traceId}`)).json()) as { status: string }).status === 'cancelled', 120_000, 'trace cancelled');
    await deleteRunnerPods(runnerSelector(traceId));

    // Reference: the same pods created one by one with the scheduler's credential, nothing else.
    const refCore = cluster.scheduler.makeApiClient(CoreV1Api);
    const refTrace = `${traceId}-ref`;
    const refStarted = process.hrtime.bigint();
    for (let i = 0; i < n; i += 1) {
      const job: NodeJobSpec = { traceId: refTrace, node: `fanout-${n}-node-${i}`, gadget: 'exec', params: {}, durationSeconds: 600, maxEvents: 1000, targets: {} };
      await refCore.createNamespacedPod({ namespace: RUNNERS, body: buildRunnerPod(job, podConfig) });
    }
    const refSeconds = Number(process.hrtime.bigint() - refStarted) / 1e9;
    await deleteRunnerPods(runnerSelector(refTrace));

    const line = { nodes: n, podsCreated: created.size, secondsToAllCreated: Number(seconds.toFixed(3)), apiRequests, referenceSequentialSeconds: Number(refSeconds.toFixed(3)) };
    if (values.json) console.log(JSON.stringify(line));
    else console.log(`${n} nodes: POST → ${line.podsCreated} runner pods in ${line.secondsToAllCreated} s, ${apiRequests} Kubernetes API requests (the same pods created one by one: ${line.referenceSequentialSeconds} s)`);
  }
} finally {
  await app.close();
  await worker.close();
  await backend.close();
  await api.close();
  await redis.close();
  await cluster.stop();
}
