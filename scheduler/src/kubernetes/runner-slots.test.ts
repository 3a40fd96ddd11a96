import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunnerSlots } from './runner-slots.ts';

test('at most perNode on a node and total overall; released slots go to waiters in order', async () => {
  const slots = new RunnerSlots({ perNode: 1, total: 2 });
  const a1 = await slots.acquire('a');
  const b1 = await slots.acquire('b');
  let a2Got = false;
  let cGot = false;
  const a2 = slots.acquire('a').then((r) => ((a2Got = true), r));
  const c = slots.acquire('c').then((r) => ((cGot = true), r));
  await new Promise((r) => setImmediate(r));
  assert.equal(slots.active, 2);
  assert.equal(a2Got || cGot, false);
  b1(); // frees total; 'a' is still full, so 'c' gets it
  await new Promise((r) => setImmediate(r));
  assert.equal(cGot, true);
  assert.equal(a2Got, false);
  a1();
  a1(); // releasing twice is harmless
  (await a2)();
  (await c)();
  assert.equal(slots.active, 0);
});

test('an aborted wait leaves the queue', async () => {
  const slots = new RunnerSlots({ perNode: 1, total: 1 });
  const held = await slots.acquire('a');
  const ctl = new AbortController();
  const waiting = slots.acquire('b', ctl.signal);
  ctl.abort(new Error('trace ended'));
  await assert.rejects(waiting, /trace ended/);
  assert.equal(slots.waiting, 0);
  held();
});
