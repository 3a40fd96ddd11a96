#!/usr/bin/env node
// tracejob-runner launcher: the compiled runner (dist/job-image/src/cli.js) when the package is
// built, else the TypeScript source through tsx. Signals reach the runner because it runs in this
// very process (no child process in between).
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Signals that arrive while the runner loads are kept and handed to it (it replays them once its own
// handlers are in place), so a cancel right after the start is not lost to the default disposition.
const earlySignals = [];
const keep = (signal) => earlySignals.push(signal);
for (const signal of ['SIGTERM', 'SIGINT', 'SIGUSR1']) process.on(signal, keep);
// From now on a signal is handled: say so where a supervisor can see it without a pipe
// (contracts' RUNNER_PROCESS_NAME; scheduler/src/local/runner-readiness.ts waits for it).
try {
  writeFileSync('/proc/self/comm', 'tracejob-runner');
} catch {
  /* not Linux: nobody reads it */
}
globalThis[Symbol.for('tracejob.runner.earlySignals')] = {
  take() {
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGUSR1']) process.off(signal, keep);
    return earlySignals.splice(0);
  },
};

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
