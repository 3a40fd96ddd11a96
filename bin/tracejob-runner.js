#!/usr/bin/env node
// tracejob-runner launcher: the compiled runner (dist/job-image/src/cli.js) when the package is
// built, else the TypeScript source through tsx. Signals reach the runner because it runs in this
// very process (no child process in between).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = `${root}dist/job-image/src/cli.js`;
if (process.env.TRACEJOB_FROM_SOURCE !== '1' && existsSync(built)) {
  await import(pathToFileURL(built).href);
} else {
  // tsx is a dev dependency: present in a source checkout, absent from the image (which runs dist/)
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(`${root}job-image/src/cli.ts`).href);
}
