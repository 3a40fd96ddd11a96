/**
 * The API's optional Kubernetes authentication mode against the real kube-apiserver: TokenReview
 * tells who a bearer token belongs to, SubjectAccessReview whether that user may `get pods` in a
 * namespace — asked with the API's own ServiceAccount token and the RBAC of manifests/.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createKubernetesReviewer, type KubernetesReviewer } from '../../api/src/auth/kubernetes-reviews.ts';
import { CoreV1Api, RbacAuthorizationV1Api } from '../../scheduler/src/kubernetes/kubernetes-client.ts';
import { startTestCluster, type TestCluster } from './cluster-fixture.ts';
import { controlPlaneSkipReason, serviceAccountToken } from './control-plane.ts';

const skip = controlPlaneSkipReason();
let cluster: TestCluster | undefined;
let reviewer: KubernetesReviewer;
let aliceToken: string;
let dir: string;

before(async () => {
  if (skip) return;
  cluster = await startTestCluster(['shop']);
  const admin = cluster.admin;
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace: 'shop', body: { metadata: { name: 'alice' } } });
  await rbac.createNamespacedRole({
    namespace: 'shop',
    body: { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: 'shop',
    body: {
      metadata: { name: 'alice-reads-pods' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'alice', namespace: 'shop' }],
    },
  });
  aliceToken = await serviceAccountToken(admin, 'shop', 'alice');
  // The API asks with its own credential: the tracejob-api ServiceAccount of manifests/rbac.yaml.
  dir = mkdtempSync(join(tmpdir(), 'tracejob-reviews-'));
  writeFileSync(join(dir, 'token'), await serviceAccountToken(admin, 'tracejob', 'tracejob-api'));
  writeFileSync(join(dir, 'ca.crt'), Buffer.from(admin.getCurrentCluster()!.caData!, 'base64'));
  reviewer = createKubernetesReviewer(
    { policies: [], subjectAccessReview: true, audiences: [], apiServer: cluster.cp.server, caFile: join(dir, 'ca.crt'), tokenFile: join(dir, 'token'), cacheSeconds: 0 },
    {},
  );
});

after(async () => {
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('TokenReview: a ServiceAccount token is its user; a forged token is nobody', { skip }, async () => {
  const alice = await reviewer.reviewToken(aliceToken);
  assert.equal(alice?.username, 'system:serviceaccount:shop:alice');
  assert.ok(alice?.groups.includes('system:serviceaccounts:shop'), `groups: ${alice?.groups.join(',')}`);
  assert.equal(await reviewer.reviewToken(`${aliceToken.slice(0, -4)}AAAA`), undefined);
  assert.equal(await reviewer.reviewToken('not-a-token'), undefined);
});

test('SubjectAccessReview: the user may get pods where RBAC lets her, nowhere else', { skip }, async () => {
  const alice = (await reviewer.reviewToken(aliceToken))!;
  assert.equal(await reviewer.mayAccess(alice, 'shop', 'get', 'pods'), true);
  assert.equal(await reviewer.mayAccess(alice, 'kube-system', 'get', 'pods'), false);
  assert.equal(await reviewer.mayAccess(alice, 'shop', 'delete', 'pods'), false);
});
