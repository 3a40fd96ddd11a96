/**
 * The scheduler as a process (scheduler/src/kubernetes/main.ts), killed with SIGKILL mid-trace:
 * a second scheduler process takes the trace over (BullMQ stalled job), adopts the runner pods
 * that are still running — no second pod, no second runner — and the trace completes.
 * Real kube-apiserver (scheduler ServiceAccount token in a kubeconfig file), real redis-server,
 * the API in this process, the test kubelet and the real runner.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startAppFixture, type AppFixture } from '../support/app-fixture.ts';
import { PodWatch } from '../../scheduler/src/kubernetes/pod-watch.ts';
import { runnerSelector } from '../../scheduler/src/kubernetes/runner-pod.ts';
import { CoreV1Api } from '../../scheduler/src/kubernetes/kubernetes-client.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';
import { startTestRedis, type TestRedis } from '../support/redis.ts';
import { startTestCluster, type TestCluster } from './cluster-fixture.ts';
import { controlPlaneSkipReason, repoRoot } from './control-plane.ts';
import { TestKubelet } from './test-kubelet.ts';
import { createWorkloadPods, waitFor } from './workload-pods.ts';

const skip = controlPlaneSkipReason() ?? kernelTestSkipReason();

let cluster: TestCluster;
let kubelet: TestKubelet;
let parent: TestCgroup;
let redis: TestRedis;
let api: AppFixture;
let url: string;
let dataDir: string;
const schedulers: ChildProcess[] = [];
const uploadTokenSecret = randomBytes(32).toString('base64url');

before(async () => {
  if (skip) return;
  cluster = await startTestCluster(['shop']);
  parent = createTestCgroup(uniqueCgroupPath('k8s-sched'));
  kubelet = new TestKubelet({
    kubeConfig: cluster.admin,
    cgroupParent: parent.relPath,
    nodes: [
      { name: 'node-1', runtime: 'containerd', cgroupDriver: 'systemd' },
      { name: 'node-2', runtime: 'docker', cgroupDriver: 'systemd' },
    ],
    mapRunnerCommand: (argv) => (argv[0] === 'tracejob-runner' ? [process.execPath, join(repoRoot, 'bin', 'tracejob-runner.js'), ...argv.slice(1)] : argv),
  });
  await kubelet.start();
  await createWorkloadPods(cluster.admin, 'shop', [
    { name: 'web-1', node: 'node-1', labels: { app: 'web' } },
    { name: 'web-2', node: 'node-2', labels: { app: 'web' } },
  ]);
  redis = await startTestRedis();
  api = await startAppFixture({ BACKEND: 'kubernetes', UPLOAD_TOKEN_SECRET: uploadTokenSecret }, { redis });
  const app = api.app;
  dataDir = api.dataDir;
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

after(async () => {
  for (const s of schedulers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
  await api?.close();
  await redis?.close();
  await kubelet?.stop();
  await parent?.destroy();
  await cluster?.stop();
});

function startScheduler(kubeconfigFile: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'scheduler/src/kubernetes/main.ts')], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      BACKEND: 'kubernetes',
      REDIS_URL: redis.url,
      PUBLIC_URL: url,
      UPLOAD_TOKEN_SECRET: uploadTokenSecret,
      DATA_DIR: dataDir,
      KUBECONFIG: kubeconfigFile,
      RUNNER_IMAGE: 'tracejob-runner:test',
      RUNNER_TERMINATION_GRACE_SECONDS: '10',
      RUNNER_START_TIMEOUT_SECONDS: '60',
      SCHEDULER_LOCK_SECONDS: '2',
      LOG_LEVEL: process.env.TRACEJOB_TEST_VERBOSE ? 'info' : 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  schedulers.push(child);
  return child;
}

test('a scheduler process killed mid-trace: the next one adopts the runner pods and the trace completes', { skip }, async () => {
  const kubeconfigFile = join(dataDir, 'scheduler.kubeconfig');
  writeFileSync(kubeconfigFile, cluster.scheduler.exportConfig(), { mode: 0o600 });
  const first = startScheduler(kubeconfigFile);

  const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ gadget: 'exec', durationSeconds: 10, target: { namespace: 'shop', labelSelector: 'app=web' } }) });
  assert.equal(res.status, 202);
  const id = ((await res.json()) as { id: string }).id;

  const uids = new Map<string, Set<string>>();
  const observer = new PodWatch({
    kubeConfig: cluster.admin,
    namespace: 'tracejob-runners',
    labelSelector: runnerSelector(id),
    onPod: (_t, pod) => uids.set(pod.metadata!.name!, (uids.get(pod.metadata!.name!) ?? new Set()).add(pod.metadata!.uid!)),
  });
  await observer.start();
  try {
    type View = { status: string; nodes: Array<{ node: string; status: string; events: number }> };
    const view = async () => (await (await fetch(`${url}/v1/traces/${id}`)).json()) as View;
    await waitFor(async () => (await view()).nodes.filter((n) => n.status === 'running').length === 2, 60_000, 'both nodes running');
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const core = cluster.admin.makeApiClient(CoreV1Api);
    assert.equal((await core.listNamespacedPod({ namespace: 'tracejob-runners', labelSelector: runnerSelector(id) })).items.length, 2, 'the runner pods outlive their scheduler');

    startScheduler(kubeconfigFile);
    const final = await waitFor(async () => {
      const v = await view();
      return ['succeeded', 'partial', 'failed', 'cancelled'].includes(v.status) ? v : undefined;
    }, 90_000, 'the trace to end');
    assert.equal(final.status, 'succeeded', JSON.stringify(final));
    assert.ok(final.nodes.every((n) => n.events > 0), JSON.stringify(final.nodes));
    assert.equal(uids.size, 2, 'two runner pods in all');
    for (const [name, set] of uids) {
      assert.equal(set.size, 1, `${name} was never recreated`);
      assert.equal(kubelet.runnerStarts.get(name), 1, `the runner of ${name} ran once`);
    }
    await waitFor(async () => (await core.listNamespacedPod({ namespace: 'tracejob-runners', labelSelector: runnerSelector() })).items.length === 0, 15_000, 'runner pods gone');
    await waitFor(async () => (await core.listNamespacedSecret({ namespace: 'tracejob-runners', labelSelector: runnerSelector() })).items.length === 0, 15_000, 'runner Secrets gone');
  } finally {
    await observer.stop();
  }
});

