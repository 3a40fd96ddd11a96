/**
 * Renders manifests/kustomization.yaml the way `kubectl kustomize` would, for the subset this
 * project uses (`resources` files and `images`); any other kustomize feature is refused, so the
 * tests never apply something different from what a user would.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAllYaml, loadYaml, type KubernetesObject } from '../../scheduler/src/kubernetes/kubernetes-client.ts';

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'images']);

export function renderKustomization(dir: string): KubernetesObject[] {
  const k = loadYaml<Kustomization>(readFileSync(join(dir, 'kustomization.yaml'), 'utf8'));
  for (const key of Object.keys(k)) if (!SUPPORTED.has(key)) throw new Error(`render-manifests: kustomization field ${key} is not supported by the test renderer`);
  const objects: KubernetesObject[] = [];
  for (const file of k.resources ?? []) {
    for (const doc of loadAllYaml(readFileSync(join(dir, file), 'utf8')) as KubernetesObject[]) if (doc) objects.push(doc);
  }
  const images = new Map((k.images ?? []).map((i) => [i.name, i]));
  const retag = (image: string) => {
    const at = image.lastIndexOf(':');
    const name = at > image.lastIndexOf('/') ? image.slice(0, at) : image;
    const rule = images.get(name);
    if (!rule) return image;
    const tag = rule.newTag ?? (at > image.lastIndexOf('/') ? image.slice(at + 1) : 'latest');
    return `${rule.newName ?? name}:${tag}`;
  };
  for (const obj of objects) {
    const spec = (obj as { spec?: { template?: { spec?: { containers?: Array<{ image?: string }>; initContainers?: Array<{ image?: string }> } } } }).spec?.template?.spec;
    for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) if (c.image) c.image = retag(c.image);
  }
  return objects;
}
