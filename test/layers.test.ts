/**
 * The layers of docs/architecture.md hold: no import runs back up (contracts → state → bpf →
 * job-image; scheduler, api → cli), the API and the scheduler never import each other, and the
 * files of one component import each other without a circle. Reads the sources' import lines.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';

const root = normalize(join(import.meta.dirname, '..'));
const SKIP = new Set(['node_modules', 'dist', 'build']);

function tsFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP.has(entry.name)) tsFiles(path, out);
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

// Static imports and re-exports (`import … from`, `export … from`, `import '…'`) and dynamic `import('…')`.
const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/gm;

/** Repository-relative paths of the project files `file` imports (packages and node: left out). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    if (spec.startsWith('.')) out.push(relative(root, join(root, dirname(file), spec)));
  }
  return out;
}

const top = (path: string) => path.split('/')[0]!;

/** Top-level folders each folder must not import (test/ helpers may be imported by tests anywhere). */
const FORBIDDEN: Record<string, readonly string[]> = {
  contracts: ['state', 'bpf', 'job-image', 'api', 'scheduler', 'cli'],
  state: ['job-image', 'api', 'scheduler', 'cli'],
  bpf: ['job-image', 'api', 'scheduler', 'cli'],
  'job-image': ['api', 'scheduler', 'cli'],
  api: ['scheduler', 'cli'],
  scheduler: ['api', 'cli'],
};

test('no import runs back up a layer; the API and the scheduler never import each other', () => {
  const violations: string[] = [];
  let checked = 0;
  for (const folder of Object.keys(FORBIDDEN)) {
    for (const file of tsFiles(folder)) {
      for (const target of importsOf(file)) {
        checked++;
        if (FORBIDDEN[folder]!.includes(top(target))) violations.push(`${file} imports ${target}`);
      }
    }
  }
  assert.ok(checked > 200, `the scan sees the imports (${checked})`);
  assert.deepEqual(violations, []);
});

test('state/ is imported by both the API and the scheduler (it is their shared layer)', () => {
  const importers = (folder: string) => tsFiles(folder).some((f) => importsOf(f).some((t) => top(t) === 'state'));
  assert.ok(importers('api') && importers('scheduler'));
});

/** One circle in an import graph (file → files it imports), as a path, or undefined. */
function circleIn(edges: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string): string[] | undefined => {
    state.set(f, 'open');
    stack.push(f);
    for (const t of edges.get(f) ?? []) {
      if (state.get(t) === 'open') return [...stack.slice(stack.indexOf(t)), t];
      if (!state.has(t)) {
        const found = visit(t);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(f, 'done');
    return undefined;
  };
  for (const f of edges.keys()) {
    if (!state.has(f)) {
      const found = visit(f);
      if (found) return found;
    }
  }
  return undefined;
}

function importGraph(dir: string): Map<string, string[]> {
  const files = tsFiles(dir);
  const inDir = new Set(files);
  return new Map(files.map((f) => [f, importsOf(f).filter((t) => inDir.has(t))]));
}

for (const dir of ['api/src', 'state/src', 'scheduler/src', 'contracts', 'cli']) {
  test(`no import circle between the files of ${dir}`, () => {
    const graph = importGraph(dir);
    assert.ok(graph.size > 0);
    const circle = circleIn(graph);
    assert.equal(circle, undefined, circle && `circle: ${circle.join(' → ')}`);
  });
}

test('the checks see what they must: type-only imports, re-exports, dynamic imports, and circles', () => {
  const sample = "import type { AppDeps } from '../app.ts';\nexport { x } from './x.ts';\nconst m = await import('./lazy.ts');";
  assert.deepEqual(
    [...sample.matchAll(IMPORT)].map((m) => m[1] ?? m[2] ?? m[3]),
    ['../app.ts', './x.ts', './lazy.ts'],
  );
  // The shape the routes and app.ts had before app-deps.ts: app → routes/traces → app.
  const before = new Map([
    ['api/src/app.ts', ['api/src/routes/traces.ts', 'api/src/errors.ts']],
    ['api/src/routes/traces.ts', ['api/src/errors.ts', 'api/src/app.ts']],
    ['api/src/errors.ts', []],
  ]);
  assert.deepEqual(circleIn(before), ['api/src/app.ts', 'api/src/routes/traces.ts', 'api/src/app.ts']);
});
