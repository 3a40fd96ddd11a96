#!/usr/bin/env node
// Writes the runner image's package.json: only the runtime dependencies the runner imports, pinned
// to the versions in the repository's package-lock.json, so the image does not carry the API's,
// the scheduler's or the dev dependencies.  Usage: node job-image/runtime-package.mjs <repo> <out.json>
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const RUNTIME_DEPS = ['pino', 'tar-stream', '@sinclair/typebox'];
const [repo = '.', out = 'package.runtime.json'] = process.argv.slice(2);
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8'));
const dependencies = {};
for (const name of RUNTIME_DEPS) {
  const version = lock.packages?.[`node_modules/${name}`]?.version;
  if (!version) throw new Error(`${name} is not in package-lock.json; run npm install first`);
  dependencies[name] = version;
}
writeFileSync(
  out,
  `${JSON.stringify(
    {
      name: 'tracejob-runner',
      version: pkg.version,
      private: true,
      type: 'module',
      license: pkg.license,
      bin: { 'tracejob-runner': 'bin/tracejob-runner.js' },
      dependencies,
    },
    null,
    2,
  )}\n`,
);
