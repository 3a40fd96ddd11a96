#!/usr/bin/env node
// Runs one benchmark: test/bench/<name>.bench.ts with tsx, passing the remaining arguments.
// Usage: node scripts/run-bench.mjs <name> [args...]   (e.g. npm run bench:ringbuf -- --json)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const benchDir = join(root, 'test', 'bench');
const [name, ...args] = process.argv.slice(2);
const available = existsSync(benchDir)
  ? readdirSync(benchDir).filter((f) => f.endsWith('.bench.ts')).map((f) => f.slice(0, -'.bench.ts'.length))
  : [];
if (!name || name.startsWith('-')) {
  console.error(`usage: node scripts/run-bench.mjs <name> [args]; benchmarks: ${available.join(', ') || 'none'}`);
  process.exit(2);
}
const file = join(benchDir, `${name}.bench.ts`);
if (!existsSync(file)) {
  console.error(`no benchmark '${name}' (${file} is missing); benchmarks: ${available.join(', ') || 'none'}`);
  process.exit(2);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { cwd: root, stdio: 'inherit' });
if (result.error) {
  console.error(`cannot run ${file}: ${result.error.message}`);
  process.exit(1);
}
process.exit(result.status ?? 1);
