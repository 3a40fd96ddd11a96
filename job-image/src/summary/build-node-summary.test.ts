import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildNodeSummary, type NodeRunRecord } from './build-node-summary.ts';
import { EventTally, topValueOf } from './event-tally.ts';

const run: NodeRunRecord = {
  traceId: 't1',
  node: 'n1',
  gadget: 'exec',
  startedAt: new Date('2026-01-01T00:00:00Z'),
  stoppedAt: new Date('2026-01-01T00:00:10Z'),
  stopReason: 'deadline',
  lostEvents: 3,
  truncated: false,
  targetsNotFound: [{ target: 'abc', reason: 'gone' }],
  cgroupIds: [30, 10, 20],
  attribution: new Map([
    [10, { namespace: 'shop', pod: 'web-1', container: 'app' }],
    [20, { namespace: 'shop', pod: 'web-2' }],
  ]),
};

function ev(cgroupId: number, comm: string, filename: string, argv?: string[]) {
  return { timestamp: '1', pid: 1, tid: 1, uid: 0, comm, cgroupId, gadget: 'exec', filename, ...(argv ? { argv } : {}) };
}

test('counts per container with attribution, most events first; ids sorted; run facts copied', () => {
  const tally = new EventTally(['comm', 'filename']);
  for (let i = 0; i < 5; i += 1) tally.add(ev(20, 'sh', '/bin/sh'));
  for (let i = 0; i < 2; i += 1) tally.add(ev(10, 'ls', '/bin/ls'));
  tally.add(ev(99, 'cat', '/bin/cat'));
  const s = buildNodeSummary(tally.state, run);
  assert.equal(s.events, 8);
  assert.deepEqual(s.perContainer, [
    { cgroupId: 20, namespace: 'shop', pod: 'web-2', events: 5 },
    { cgroupId: 10, namespace: 'shop', pod: 'web-1', container: 'app', events: 2 },
    { cgroupId: 99, events: 1 },
  ]);
  assert.deepEqual(s.cgroupIds, [10, 20, 30]);
  assert.equal(s.startedAt, '2026-01-01T00:00:00.000Z');
  assert.equal(s.stoppedAt, '2026-01-01T00:00:10.000Z');
  assert.equal(s.stopReason, 'deadline');
  assert.equal(s.lostEvents, 3);
  assert.deepEqual(s.targetsNotFound, [{ target: 'abc', reason: 'gone' }]);
  assert.equal(s.error, undefined);
});

test('top-N per gadget field: by count, ties by value, at most N, only the top fields', () => {
  const tally = new EventTally(['comm']);
  const comms = ['b', 'a', 'c', 'a', 'b', 'a', 'd', 'e'];
  for (const c of comms) tally.add(ev(1, c, `/bin/${c}`));
  const s = buildNodeSummary(tally.state, run, 3);
  assert.deepEqual(s.top, {
    comm: [
      { value: 'a', count: 3 },
      { value: 'b', count: 2 },
      { value: 'c', count: 1 },
    ],
  });
});

test('an empty trace has zero counts and empty top lists for every top field', () => {
  const s = buildNodeSummary(new EventTally(['comm', 'path', 'error']).state, { ...run, stopReason: 'signal', error: 'x' });
  assert.equal(s.events, 0);
  assert.deepEqual(s.perContainer, []);
  assert.deepEqual(s.top, { comm: [], path: [], error: [] });
  assert.equal(s.error, 'x');
});

test('values of every type are counted as text (arrays joined), missing fields not counted', () => {
  assert.equal(topValueOf(['ls', '-l']), 'ls -l');
  assert.equal(topValueOf(443), '443');
  assert.equal(topValueOf(false), 'false');
  assert.equal(topValueOf(undefined), undefined);
  const tally = new EventTally(['port']);
  tally.add({ cgroupId: 1, port: 80 });
  tally.add({ cgroupId: 1 });
  tally.add({ cgroupId: 1, port: 80 });
  assert.deepEqual(buildNodeSummary(tally.state, run).top.port, [{ value: '80', count: 2 }]);
});

test('a high-cardinality field stays bounded and keeps its heavy hitters exact', () => {
  const tally = new EventTally(['filename'], 100);
  for (let i = 0; i < 5000; i += 1) {
    tally.add({ cgroupId: 1, filename: `/tmp/unique-${i}` });
    if (i % 10 === 0) tally.add({ cgroupId: 1, filename: '/etc/hot' });
  }
  assert.ok(tally.state.values.get('filename')!.size <= 200);
  assert.ok(tally.state.pruned.has('filename'));
  const s = buildNodeSummary(tally.state, run, 1);
  assert.deepEqual(s.top.filename, [{ value: '/etc/hot', count: 500 }]);
  assert.equal(s.events, 5500);
});
