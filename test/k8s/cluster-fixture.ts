/**
 * A test cluster: the real control plane with tracejob's namespaces and RBAC (from manifests/)
 * applied, a workload namespace, and the scheduler's ServiceAccount token (TokenRequest API).
 */
import { join } from 'node:path';
import {
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
} from '../../scheduler/src/kubernetes/kubernetes-client.ts';
import { repoRoot, serviceAccountToken, startControlPlane, type ControlPlane } from './control-plane.ts';
import { renderKustomization } from './render-manifests.ts';

export interface TestCluster {
  cp: ControlPlane;
  admin: KubeConfig;
  /** The scheduler's credential: the ServiceAccount token of manifests/rbac.yaml. */
  scheduler: KubeConfig;
  manifests: KubernetesObject[];
  stop(): Promise<void>;
}

export const FIELD_MANAGER = 'tracejob-tests';

/** Server-side apply of `objects` (in order); `dryRun` asks the apiserver to validate without storing. */
export async function applyObjects(kc: KubeConfig, objects: KubernetesObject[], dryRun = false): Promise<KubernetesObject[]> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  const out: KubernetesObject[] = [];
  for (const obj of objects) {
    out.push(await api.patch(obj, undefined, dryRun ? 'All' : undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply));
  }
  return out;
}

export function manifestsOf(objects: KubernetesObject[], kinds: string[]): KubernetesObject[] {
  return objects.filter((o) => kinds.includes(o.kind ?? ''));
}

/** Starts the control plane, applies namespaces + RBAC + ServiceAccounts, creates `workloadNamespaces`. */
export async function startTestCluster(workloadNamespaces: string[] = ['shop']): Promise<TestCluster> {
  const cp = await startControlPlane();
  try {
    const admin = cp.adminKubeConfig();
    const manifests = renderKustomization(join(repoRoot, 'manifests'));
    await applyObjects(admin, manifestsOf(manifests, ['Namespace']));
    await applyObjects(admin, manifestsOf(manifests, ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']));
    const core = admin.makeApiClient(CoreV1Api);
    for (const ns of workloadNamespaces) await core.createNamespace({ body: { metadata: { name: ns } } });
    // No controller-manager here: create the default ServiceAccount that pods refer to.
    for (const ns of [...workloadNamespaces, 'tracejob', 'tracejob-runners']) {
      await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'default' } } });
    }
    const token = await serviceAccountToken(admin, 'tracejob', 'tracejob-scheduler');
    return { cp, admin, scheduler: cp.kubeConfigWithToken(token), manifests, stop: () => cp.stop() };
  } catch (err) {
    await cp.stop();
    throw err;
  }
}
