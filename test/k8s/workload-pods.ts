/** Workload pods for the tests (what users run and trace), created as the admin and waited on. */
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, type KubeConfig, type V1Pod } from '../../scheduler/src/kubernetes/kubernetes-client.ts';

export interface WorkloadPod {
  name: string;
  node: string;
  labels: Record<string, string>;
  containers?: string[];
}

export async function createWorkloadPods(admin: KubeConfig, namespace: string, pods: WorkloadPod[]): Promise<V1Pod[]> {
  const core = admin.makeApiClient(CoreV1Api);
  for (const p of pods) {
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: p.name, labels: p.labels },
        spec: { nodeName: p.node, containers: (p.containers ?? ['main']).map((name) => ({ name, image: `example/${name}:1` })) },
      },
    });
  }
  const names = new Set(pods.map((p) => p.name));
  return waitFor(async () => {
    const list = await core.listNamespacedPod({ namespace });
    const running = list.items.filter((p) => names.has(p.metadata!.name!) && p.status?.phase === 'Running');
    return running.length === names.size ? running : undefined;
  }, 30_000, `workload pods ${[...names].join(', ')} running`);
}

/** Polls `check` until it returns a value (not undefined/false), or fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}
