/**
 * The manifests against a real kube-apiserver: every object passes a server-side dry-run apply,
 * the pod templates pass their namespace's Pod Security level, and the scheduler's ServiceAccount
 * (token from the TokenRequest API) can do its job and nothing more.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { AuthenticationV1Api, CoreV1Api, loadAllYaml, Watch, type KubeConfig, type KubernetesObject, type V1Pod } from '../../scheduler/src/kubernetes/kubernetes-client.ts';
import { apiErrorCode, apiErrorMessage } from '../../scheduler/src/kubernetes/api-error.ts';
import { buildRunnerPod, DEFAULT_RUNNER_POD_CONFIG } from '../../scheduler/src/kubernetes/runner-pod.ts';
import { controlPlaneSkipReason, repoRoot, serviceAccountToken, whoAmI } from './control-plane.ts';
import { applyObjects, startTestCluster, type TestCluster } from './cluster-fixture.ts';

const skip = controlPlaneSkipReason();
let cluster: TestCluster;

before(async () => {
  if (!skip) cluster = await startTestCluster(['shop']);
});
after(async () => {
  await cluster?.stop();
});

async function refusedWith(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return apiErrorCode(err);
  }
}

/** Opens a real watch of `path` for a second: undefined when it streams, else the refusal's HTTP code. */
function watchRefusal(kc: KubeConfig, path: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    new Watch(kc)
      .watch(path, { timeoutSeconds: 1 }, () => undefined, (err: unknown) => resolve(err ? (apiErrorCode(err) ?? (err as { statusCode?: number }).statusCode ?? -1) : undefined))
      .catch((err: unknown) => (apiErrorCode(err) !== undefined ? resolve(apiErrorCode(err)) : reject(err as Error)));
  });
}

function runnerPod(namespace: string): V1Pod {
  return buildRunnerPod(
    { traceId: 't-rbac', node: 'node-x', gadget: 'exec', params: {}, durationSeconds: 5, maxEvents: 10, targets: {} },
    { ...DEFAULT_RUNNER_POD_CONFIG, namespace, image: 'tracejob-runner:test' },
  );
}

test('every manifest passes a server-side dry-run apply', { skip }, async () => {
  const objects = cluster.manifests;
  const kinds = objects.map((o) => o.kind).sort();
  for (const kind of ['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Namespace', 'NetworkPolicy', 'Role', 'RoleBinding', 'Service', 'ServiceAccount', 'StatefulSet']) {
    assert.ok(kinds.includes(kind), `manifests have a ${kind}`);
  }
  const applied = await applyObjects(cluster.admin, objects, true);
  assert.equal(applied.length, objects.length);
  for (const [i, obj] of applied.entries()) assert.equal(obj.metadata?.name, objects[i]!.metadata?.name);
});

test('the test renderer of manifests/ gives what `kubectl kustomize` gives', { skip: skip ?? (spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0 ? undefined : 'kubectl is not installed') }, () => {
  const out = spawnSync('kubectl', ['kustomize', join(repoRoot, 'manifests')], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  const key = (o: KubernetesObject) => `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name}`;
  const theirs = (loadAllYaml(out.stdout) as KubernetesObject[]).filter(Boolean);
  assert.deepEqual(cluster.manifests.map(key).sort(), theirs.map(key).sort());
  const byKey = new Map(theirs.map((o) => [key(o), o]));
  for (const o of cluster.manifests) assert.deepEqual(o, byKey.get(key(o)), key(o));
});

test('api, scheduler and redis pod templates pass the restricted Pod Security level of their namespace', { skip }, async () => {
  const core = cluster.admin.makeApiClient(CoreV1Api);
  type Workload = KubernetesObject & { spec: { template: { metadata: V1Pod['metadata']; spec: NonNullable<V1Pod['spec']> }; volumeClaimTemplates?: Array<{ metadata: { name: string } }> } };
  const workloads = cluster.manifests.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet') as Workload[];
  assert.equal(workloads.length, 3);
  for (const w of workloads) {
    // A StatefulSet's claims become volumes of its pods.
    const claims = (w.spec.volumeClaimTemplates ?? []).map((c) => ({ name: c.metadata.name, emptyDir: {} }));
    const spec = { ...w.spec.template.spec, volumes: [...(w.spec.template.spec.volumes ?? []), ...claims] };
    const body: V1Pod = { metadata: { ...w.spec.template.metadata, name: `${w.metadata!.name}-psa-check` }, spec };
    await core.createNamespacedPod({ namespace: 'tracejob', body, dryRun: 'All' });
  }
  // The runner pod is refused there (hostPID, hostPath, capabilities) and accepted in the runner namespace.
  const misplaced = runnerPod('tracejob');
  misplaced.spec!.serviceAccountName = 'default';
  await assert.rejects(core.createNamespacedPod({ namespace: 'tracejob', body: misplaced, dryRun: 'All' }), (err: unknown) => {
    assert.equal(apiErrorCode(err), 403);
    assert.match(apiErrorMessage(err), /violates PodSecurity "restricted/);
    return true;
  });
  await core.createNamespacedPod({ namespace: 'tracejob-runners', body: runnerPod('tracejob-runners'), dryRun: 'All' });
});

test('the scheduler ServiceAccount reads pods everywhere, creates pods and Secrets only in tracejob-runners', { skip }, async () => {
  assert.equal(await whoAmI(cluster.scheduler), 'system:serviceaccount:tracejob:tracejob-scheduler');
  const core = cluster.scheduler.makeApiClient(CoreV1Api);
  await core.listNamespacedPod({ namespace: 'shop' });
  await core.listPodForAllNamespaces({ limit: 1 });
  const created = await core.createNamespacedPod({ namespace: 'tracejob-runners', body: runnerPod('tracejob-runners') });
  await core.deleteNamespacedPod({ name: created.metadata!.name!, namespace: 'tracejob-runners', gracePeriodSeconds: 0 });
  await core.createNamespacedSecret({ namespace: 'tracejob-runners', body: { metadata: { name: 's1' }, stringData: { a: 'b' } } });
  await core.deleteNamespacedSecret({ name: 's1', namespace: 'tracejob-runners' });

  for (const ns of ['shop', 'tracejob', 'default', 'kube-system']) {
    const code = await refusedWith(core.createNamespacedPod({ namespace: ns, body: runnerPod(ns) }));
    assert.equal(code, 403, `creating a pod in ${ns} is refused`);
    assert.equal(await refusedWith(core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: 's2' } } })), 403, `creating a Secret in ${ns} is refused`);
  }
  assert.equal(await refusedWith(core.deleteNamespacedPod({ name: 'anything', namespace: 'shop' })), 403);
  assert.equal(await refusedWith(core.listNamespacedSecret({ namespace: 'tracejob' })), 403, 'no reading Secrets outside the runner namespace');
  // Nodes: list and watch (kernel versions decide CAP_SYS_RESOURCE; a dead node ends its runners); no reading one, no writes.
  assert.ok(Array.isArray((await core.listNode()).items), 'the scheduler lists nodes');
  assert.equal(await watchRefusal(cluster.scheduler, '/api/v1/nodes'), undefined, 'the scheduler watches nodes');
  assert.equal(await watchRefusal(cluster.scheduler, '/api/v1/namespaces/tracejob/secrets'), 403, 'a refused watch is seen as refused');
  assert.equal(await refusedWith(core.readNode({ name: 'anything' })), 403, 'no getting a node');
  assert.equal(await refusedWith(core.deleteNode({ name: 'anything' })), 403, 'no deleting a node');
});

test('the api ServiceAccount only lists pods and reviews tokens; the runner ServiceAccount can do nothing', { skip }, async () => {
  const apiKc = cluster.cp.kubeConfigWithToken(await serviceAccountToken(cluster.admin, 'tracejob', 'tracejob-api'));
  const api = apiKc.makeApiClient(CoreV1Api);
  await api.listNamespacedPod({ namespace: 'shop' });
  const review = await apiKc.makeApiClient(AuthenticationV1Api).createTokenReview({ body: { spec: { token: 'not-a-token' } } });
  assert.equal(review.status?.authenticated ?? false, false);
  assert.equal(await refusedWith(api.createNamespacedPod({ namespace: 'tracejob-runners', body: runnerPod('tracejob-runners') })), 403);
  assert.equal(await refusedWith(api.listNamespacedSecret({ namespace: 'tracejob' })), 403);
  assert.equal(await refusedWith(api.deleteNamespacedPod({ name: 'x', namespace: 'shop' })), 403);

  const runnerToken = await serviceAccountToken(cluster.admin, 'tracejob-runners', 'tracejob-runner');
  const runner = cluster.cp.kubeConfigWithToken(runnerToken).makeApiClient(CoreV1Api);
  assert.equal(await refusedWith(runner.listNamespacedPod({ namespace: 'tracejob-runners' })), 403, 'tracejob-runner cannot list pods');
  assert.equal(await refusedWith(runner.readNamespacedSecret({ name: 'x', namespace: 'tracejob-runners' })), 403, 'tracejob-runner cannot read Secrets');
  // Sanity: the admin can (the refusals above are RBAC, not a broken credential).
  const admin = cluster.admin.makeApiClient(CoreV1Api);
  await admin.listNamespacedPod({ namespace: 'tracejob' }).catch((err: unknown) => assert.fail(apiErrorMessage(err)));
});
