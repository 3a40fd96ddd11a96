#!/usr/bin/env node
// The `tracejob` command. `tracejob serve` runs the all-in-one mode (API + scheduler + local
// runner backend + a private redis-server when REDIS_URL is unset). Other subcommands live in cli/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Imports a module of the project: the compiled one from dist/ when built, else the TypeScript
 * through tsx. TRACEJOB_FROM_SOURCE=1 forces the source (the test runner sets it, so tests never
 * exercise a stale dist/).
 */
async function load(rel) {
  const built = new URL(`../dist/${rel}.js`, import.meta.url);
  if (process.env.TRACEJOB_FROM_SOURCE !== '1' && existsSync(fileURLToPath(built))) return import(built.href);
  const { register } = await import('tsx/esm/api');
  register();
  return import(new URL(`../${rel}.ts`, import.meta.url).href);
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'serve') {
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log('usage: tracejob serve\n\nRuns the API, the scheduler and the local runner backend in one process on 127.0.0.1:$PORT.\nConfiguration comes from the environment; see docs/configuration.md.');
    process.exit(0);
  }
  const serve = await load('cli/serve');
  await serve.main();
} else if (existsSync(`${root}/cli/main.ts`) || existsSync(`${root}/dist/cli/main.js`)) {
  const cli = await load('cli/main');
  process.exitCode = await cli.main(process.argv.slice(2));
} else {
  console.error('usage: tracejob serve');
  process.exit(command === undefined || command === '--help' ? 0 : 2);
}
