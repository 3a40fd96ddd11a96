/**
 * Container ids as Kubernetes reports them in `status.containerStatuses[].containerID`:
 * `<runtime>://<id>`, e.g. `containerd://4f1c…`, `cri-o://9ab2…`, `docker://77de…`.
 */
import type { ContainerTarget } from '../../../contracts/index.ts';

export type ContainerRuntime = NonNullable<ContainerTarget['runtime']>;

const RUNTIME_BY_SCHEME: Readonly<Record<string, ContainerRuntime>> = {
  containerd: 'containerd',
  'cri-o': 'cri-o',
  crio: 'cri-o',
  docker: 'docker',
};

export interface ParsedContainerId {
  runtime: ContainerRuntime;
  /** The bare id, without the `<runtime>://` prefix. */
  id: string;
}

/** Splits `containerd://abc` into `{runtime: 'containerd', id: 'abc'}`; undefined when there is no id. */
export function parseContainerId(raw: string | undefined): ParsedContainerId | undefined {
  if (!raw) return undefined;
  const sep = raw.indexOf('://');
  if (sep < 0) return raw.trim() ? { runtime: 'unknown', id: raw.trim() } : undefined;
  const scheme = raw.slice(0, sep).toLowerCase();
  const id = raw.slice(sep + 3).trim();
  if (!id) return undefined;
  return { runtime: RUNTIME_BY_SCHEME[scheme] ?? 'unknown', id };
}
