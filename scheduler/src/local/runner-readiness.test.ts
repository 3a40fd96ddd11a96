import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { runnerHandlesSignals, untilRunnerHandlesSignals } from './runner-readiness.ts';

const launcher = join(new URL('../../..', import.meta.url).pathname, 'bin/tracejob-runner.js');

test('the runner launcher marks itself once its signal handlers are in place; a plain process never does', async (t) => {
  const runner = spawn(process.execPath, [launcher, '--help'], { stdio: 'ignore' });
  const plain = spawn('sleep', ['30']);
  t.after(() => {
    runner.kill('SIGKILL');
    plain.kill('SIGKILL');
  });
  assert.equal(runnerHandlesSignals(plain.pid!), false);
  assert.equal(await untilRunnerHandlesSignals(plain.pid!, 50), false, 'times out: sleep is no runner');
  const exited = once(runner, 'exit');
  // --help exits at once: either it was seen ready first, or it is gone (false) — never an error.
  const seen = await untilRunnerHandlesSignals(runner.pid!, 30_000);
  await exited;
  assert.equal(typeof seen, 'boolean');
  assert.equal(runnerHandlesSignals(runner.pid!), undefined, 'gone after exit');
});

test('a runner signalled as soon as it handles signals stops cleanly instead of dying of the signal', async (t) => {
  // No --gadget: the runner answers a usage error, but only after loading all its modules; a SIGINT
  // caught by the launcher while they load is replayed, so it ends by its own exit, not the signal.
  const runner = spawn(process.execPath, [launcher, '--spec', '/nonexistent/spec.json', '--out', '/nonexistent/out'], { stdio: 'ignore', env: { ...process.env, TRACEJOB_FROM_SOURCE: '1' } });
  t.after(() => runner.kill('SIGKILL'));
  const exited = once(runner, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  assert.equal(await untilRunnerHandlesSignals(runner.pid!, 30_000), true);
  runner.kill('SIGINT');
  const [code, signal] = await exited;
  assert.equal(signal, null, 'not killed by SIGINT');
  assert.notEqual(code, null);
});
