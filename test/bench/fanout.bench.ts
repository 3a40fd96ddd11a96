/**
 * Fan-out benchmark of the kubernetes backend against a real kube-apiserver:
 * N fake nodes (10, 50, 200), one running target pod on each; measures target resolution + launch
 * until every runner pod exists, and the API requests the scheduler made for it (counted in its
 * client: every request, including the watch). Reference in the same run: the same N pods created
 * one after the other by a plain loop with the same client (a naive scheduler).
 *
 *   npm run bench:fanout -- --json [--nodes 10,50,200]
 * prints one JSON line per N: {"nodes","podsCreated","secondsToAllCreated","apiRequests",
 * "referenceSequentialSeconds"}. Runs with the scheduler's ServiceAccount token (manifests RBAC).
 * No kubelet: runner pods stay Pending and are deleted afterwards.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { NodeJobSpec } from '../../contracts/index.ts';
import { KubernetesBackend } from '../../scheduler/src/kubernetes/kubernetes-backend.ts';
import { CoreV1Api, KubeConfig, type V1Pod } from '../../scheduler/src/kubernetes/kubernetes-client.ts';
import { PodWatch } from '../../scheduler/src/kubernetes/pod-watch.ts';
import { buildRunnerPod, DEFAULT_RUNNER_POD_CONFIG, runnerSelector, type RunnerPodConfig } from '../../scheduler/src/kubernetes/runner-pod.ts';
import { startTestCluster } from '../k8s/cluster-fixture.ts';
import { controlPlaneSkipReason } from '../k8s/control-plane.ts';
import { waitFor } from '../k8s/workload-pods.ts';

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

for (const n of sizes) {
  const namespace = `fanout-${n}`;
  await setUpTargets(n, namespace);
  const traceId = `bench-${n}-${randomBytes(3).toString('hex')}`;

  const kc = new CountingKubeConfig();
  kc.loadFromString(cluster.scheduler.exportConfig());
  const backend = new KubernetesBackend({ kubeConfig: kc, pod: podConfig, startTimeoutSeconds: 3600, limits: { perNode: 2, total: 10_000 } });

  const created = new Set<string>();
  const observer = new PodWatch({ kubeConfig: cluster.admin, namespace: RUNNERS, labelSelector: runnerSelector(traceId), onPod: (type, pod: V1Pod) => type !== 'DELETED' && created.add(pod.metadata!.name!) });
  await observer.start();

  const ctl = new AbortController();
  const started = process.hrtime.bigint();
  const plans = await backend.resolveTargets({ namespace, labelSelector: 'app=target' });
  const jobs: NodeJobSpec[] = plans.map((p) => ({ traceId, node: p.node, gadget: 'exec', params: {}, durationSeconds: 30, maxEvents: 1000, targets: p.targets, upload: { url: 'http://tracejob-api.tracejob.svc:8080/x', token: 't' } }));
  const run = backend.run(jobs, { signal: ctl.signal, onNodeRunning: () => undefined });
  await waitFor(() => created.size >= n, 300_000, `${n} runner pods`);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const apiRequests = kc.requests;
  ctl.abort();
  await run;
  await observer.stop();
  await backend.close();
  await deleteRunnerPods(runnerSelector(traceId));

  // Reference: the same pods created one by one with the same credential, nothing else.
  const refKc = new CountingKubeConfig();
  refKc.loadFromString(cluster.scheduler.exportConfig());
  const refCore = refKc.makeApiClient(CoreV1Api);
  const refTrace = `${traceId}-ref`;
  const refStarted = process.hrtime.bigint();
  for (const job of jobs) await refCore.createNamespacedPod({ namespace: RUNNERS, body: buildRunnerPod({ ...job, traceId: refTrace }, podConfig) });
  const refSeconds = Number(process.hrtime.bigint() - refStarted) / 1e9;
  await deleteRunnerPods(runnerSelector(refTrace));

  const line = { nodes: n, podsCreated: created.size, secondsToAllCreated: Number(seconds.toFixed(3)), apiRequests, referenceSequentialSeconds: Number(refSeconds.toFixed(3)) };
  if (values.json) console.log(JSON.stringify(line));
  else console.log(`${n} nodes: ${line.podsCreated} runner pods in ${line.secondsToAllCreated} s, ${apiRequests} API requests (sequential creates alone: ${line.referenceSequentialSeconds} s)`);
}
await cluster.stop();
