import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeSummary } from '../../../contracts/index.ts';
import { mergeNodeSummaries } from './merge-summaries.ts';

function summary(node: string, events: number, top: Record<string, [string, number][]>): NodeSummary {
  return {
    traceId: 't',
    node,
    gadget: 'exec',
    startedAt: '',
    stoppedAt: '',
    stopReason: 'deadline',
    events,
    lostEvents: 1,
    truncated: node === 'b',
    perContainer: [{ cgroupId: 7, events }],
    top: Object.fromEntries(Object.entries(top).map(([f, es]) => [f, es.map(([value, count]) => ({ value, count }))])),
    targetsNotFound: [],
    cgroupIds: [7],
  };
}

test('counts add up across nodes and top-N values are re-ranked on the sums', () => {
  const merged = mergeNodeSummaries('t', [
    summary('b', 5, { comm: [['sh', 3], ['ls', 2]] }),
    summary('a', 4, { comm: [['ls', 4]] }),
  ], 1);
  assert.equal(merged.nodes, 2);
  assert.equal(merged.events, 9);
  assert.equal(merged.lostEvents, 2);
  assert.equal(merged.truncated, true);
  assert.deepEqual(merged.top.comm, [{ value: 'ls', count: 6 }]);
  assert.deepEqual(merged.perNode.map((n) => n.node), ['a', 'b']);
  assert.deepEqual(merged.perContainer.map((c) => c.node), ['a', 'b']);
});
