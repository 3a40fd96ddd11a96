/**
 * Latency of a trace on the real node (test/cluster: kubelet, containerd, runc, tracejob deployed
 * from its images), through the deployed API:
 *   - POST /v1/traces → tracing on the node (the node's `tracingSince`, when the gadget is attached
 *     and filtering),
 *   - POST → trace finished, for a 5 s exec trace,
 *   - runner pod created → Running (the pod's own watch events, seen by this process),
 * and, as the reference in the same run, a plain busybox pod created → Running on the same node
 * (what any pod costs on this kubelet/containerd).
 *
 *   npm run bench:cluster -- --json [--runs 3]
 * prints one JSON line per measurement with the median, min and max over the runs. Brings the
 * cluster up when it is not up (and down again after); reuses one that `npm run cluster:up` left.
 */
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, KubeConfig, type V1Pod } from '../../scheduler/src/kubernetes/kubernetes-client.ts';
import { clusterSkipReason, imageSize, kubectl, NODE_IMAGES, useCluster, type UpTimings } from '../cluster/node-cluster.ts';

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, runs: { type: 'string', default: '3' } } });
const runs = Math.max(1, Number(values.runs) || 3);

const skip = clusterSkipReason();
if (skip) {
  console.error(`bench:cluster skipped: ${skip}`);
  process.exit(0);
}

const upTimings: UpTimings = {};
const t0Up = Date.now();
const lease = await useCluster({ timings: upTimings });
const { env, startedHere } = lease;
const upSeconds = (Date.now() - t0Up) / 1000;
const kc = new KubeConfig();
kc.loadFromFile(env.KUBECONFIG);
const core = kc.makeApiClient(CoreV1Api);
const NS = `tj-bench-${process.pid}`;

function out(metric: string, samples: number[], extra: Record<string, unknown> = {}): void {
  const sorted = [...samples].sort((a, b) => a - b);
  const line = { bench: 'cluster', metric, runs: samples.length, median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], max: sorted[sorted.length - 1], ...extra };
  console.log(values.json ? JSON.stringify(line) : `${metric}: median ${line.median?.toFixed(2)} s (min ${line.min?.toFixed(2)}, max ${line.max?.toFixed(2)})`);
}

async function apiJson(path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${env.TRACEJOB_SERVER}${path}`, { ...init, headers: { authorization: `Bearer ${env.TRACEJOB_TOKEN}`, 'content-type': 'application/json' } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Polls pods matching `selector` in `ns` every 50 ms; resolves when one is seen and when it runs. */
async function podTimes(ns: string, selector: string, timeoutMs: number): Promise<{ seenAt: number; runningAt: number }> {
  let seenAt = 0;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await core.listNamespacedPod({ namespace: ns, labelSelector: selector });
    const pod: V1Pod | undefined = list.items[0];
    if (pod && !seenAt) seenAt = Date.now();
    if (pod?.status?.phase === 'Running' || pod?.status?.phase === 'Succeeded') return { seenAt, runningAt: Date.now() };
    if (Date.now() > deadline) throw new Error(`no running pod for ${selector} in ${ns} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

try {
  kubectl(['create', 'namespace', NS]);
  kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: NS },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'web', image: 'localhost/busybox:dev', imagePullPolicy: 'Never', command: ['/bin/sh', '-c', 'while :; do /bin/date >/dev/null; /bin/sleep 0.5; done'] }] },
        },
      },
    }),
  });
  kubectl(['-n', NS, 'rollout', 'status', 'deploy/web', '--timeout=180s']);

  const toTracing: number[] = [];
  const toFinished: number[] = [];
  const runnerCreateToRunning: number[] = [];
  const referenceCreateToRunning: number[] = [];
  for (let i = 0; i < runs; i++) {
    // Reference: a plain pod on the same node, created → Running.
    const refName = `ref-${i}`;
    const refT0 = Date.now();
    kubectl(['-n', NS, 'run', refName, '--image=localhost/busybox:dev', '--image-pull-policy=Never', '--restart=Never', `--labels=bench=${refName}`, '--', '/bin/sleep', '30']);
    const ref = await podTimes(NS, `bench=${refName}`, 120_000);
    referenceCreateToRunning.push((ref.runningAt - refT0) / 1000);
    kubectl(['-n', NS, 'delete', 'pod', refName, '--grace-period=0', '--wait=false']);

    const t0 = Date.now();
    const post = await apiJson('/v1/traces', { method: 'POST', body: JSON.stringify({ gadget: 'exec', durationSeconds: 5, target: { namespace: NS, labelSelector: 'app=web' } }) });
    if (post.status !== 202) throw new Error(`POST /v1/traces: ${post.status} ${JSON.stringify(post.body)}`);
    const id = post.body.id as string;
    const runner = podTimes('tracejob-runners', `tracejob.dev/trace-id=${id}`, 120_000);
    let tracingAt = 0;
    let status = '';
    for (;;) {
      const { body } = await apiJson(`/v1/traces/${id}`);
      const node = (body.nodes as { tracingSince?: string }[] | undefined)?.[0];
      if (!tracingAt && node?.tracingSince) tracingAt = Date.parse(node.tracingSince);
      status = body.status as string;
      if (['succeeded', 'partial', 'failed', 'cancelled'].includes(status)) break;
      await sleep(100);
    }
    const finishedAt = Date.now();
    if (status !== 'succeeded') throw new Error(`trace ${id} ended ${status}`);
    const r = await runner;
    toTracing.push((tracingAt - t0) / 1000);
    toFinished.push((finishedAt - t0) / 1000);
    runnerCreateToRunning.push((r.runningAt - r.seenAt) / 1000);
  }
  out('postToTracingSeconds', toTracing, { source: 'nodes[].tracingSince' });
  out('postToFinishedSeconds', toFinished, { durationSeconds: 5, overheadSeconds: toFinished.map((s) => Number((s - 5).toFixed(3))) });
  out('runnerPodCreatedToRunningSeconds', runnerCreateToRunning);
  out('referencePodCreatedToRunningSeconds', referenceCreateToRunning, { what: 'plain busybox pod, kubectl run → Running, same node and run' });
  for (const image of NODE_IMAGES) {
    const bytes = imageSize(image);
    console.log(values.json ? JSON.stringify({ bench: 'cluster', metric: 'imageBytes', image, bytes, what: "containerd's content store: the layers as imported (uncompressed docker-archive tars) + config" }) : `${image}: ${bytes === undefined ? '?' : (bytes / 1024 ** 2).toFixed(1)} MiB`);
  }
  console.log(values.json ? JSON.stringify({ bench: 'cluster', metric: 'clusterUpSeconds', seconds: upSeconds, reused: !startedHere, steps: upTimings }) : `cluster up: ${upSeconds.toFixed(1)} s${startedHere ? '' : ' (reused)'}`);
} finally {
  kubectl(['delete', 'namespace', NS, '--wait=false'], { allowFail: true });
  const left = await lease.release();
  if (left.length > 0) console.error(`cluster:down left: ${left.join(', ')}`);
}
