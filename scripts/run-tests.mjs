#!/usr/bin/env node
// Runs every *.test.ts of the project with node's test runner (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [path-substring ...]
// Tests always exercise the TypeScript source (TRACEJOB_FROM_SOURCE=1), never a possibly stale dist/.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const skipDirs = new Set(['node_modules', 'dist', 'build', '.git', '.data', 'test-artifacts']);

function collect(dir, out) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!skipDirs.has(entry.name)) collect(join(dir, entry.name), out);
    } else if (entry.name.endsWith('.test.ts')) {
      out.push(relative(root, join(dir, entry.name)));
    }
  }
  return out;
}

const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const files = collect(root, [])
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-concurrency=1',
    // A test that hangs fails after 10 minutes instead of stalling the run; a file whose tests are
    // done exits even if something it started keeps a handle open.
    `--test-timeout=${process.env.TEST_TIMEOUT_MS ?? 600_000}`,
    '--test-force-exit',
    ...files,
  ],
  { cwd: root, stdio: 'inherit', env: { ...process.env, TRACEJOB_FROM_SOURCE: '1' } },
);
process.exit(result.status ?? 1);
