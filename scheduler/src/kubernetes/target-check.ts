/**
 * The API's synchronous target check on Kubernetes: POST /v1/traces answers 422 at once when the
 * target matches no running pod (the API's ServiceAccount may list pods: manifests/rbac.yaml).
 * Pass the result as `checkTarget` to buildApp.
 */
import { isKubernetesTarget, type TraceTarget } from '../../../contracts/index.ts';
import { CoreV1Api, KubeConfig } from './kubernetes-client.ts';
import { InvalidTargetError, resolveKubernetesTargets } from './resolve-targets.ts';

export function kubernetesTargetCheck(kubeConfig: KubeConfig): (target: TraceTarget) => Promise<void> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return async (target) => {
    if (!isKubernetesTarget(target)) throw new InvalidTargetError('target.namespace', 'target.namespace is required on Kubernetes');
    await resolveKubernetesTargets(core, target, 100);
  };
}

/** The same check with in-cluster credentials (or KUBECONFIG outside a cluster). */
export function kubernetesTargetCheckFromEnv(): (target: TraceTarget) => Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kubernetesTargetCheck(kc);
}
