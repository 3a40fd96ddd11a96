/**
 * Where the gadget objects and the bpf-native addon are on disk, found from this module's own
 * location so that it works both from source (tsx: bpf/src/) and compiled (dist/bpf/src/): walk up
 * to the first directory holding package.json and bpf/gadgets/ — the repository (or image) root.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export function findRepoRoot(start: string = import.meta.dirname): string {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bpf', 'gadgets'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(`cannot find the tracejob root (a directory with package.json and bpf/gadgets/) above ${start}`);
    }
    dir = parent;
  }
}

/** Absolute path of a gadget's object, e.g. <root>/bpf/gadgets/exec/exec.bpf.o. */
export function gadgetObjectPath(objectFile: string, root: string = findRepoRoot()): string {
  return join(root, objectFile);
}

/** Absolute path of the addon's ESM entry point. */
export function nativeAddonPath(root: string = findRepoRoot()): string {
  return join(root, 'bpf', 'native', 'index.js');
}
