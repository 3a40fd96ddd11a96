import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTerminal, lossReason, overallStatus, type NodeState } from './trace-status.ts';

const node = (name: string, status: NodeState['status'], lostEvents = 0): NodeState => ({ node: name, status, events: 0, lostEvents });

test('a trace succeeds only when every node succeeded', () => {
  assert.equal(overallStatus([node('a', 'succeeded'), node('b', 'succeeded')], false), 'succeeded');
});

test('some nodes failed: partial; all failed, or no node at all: failed', () => {
  assert.equal(overallStatus([node('a', 'succeeded'), node('b', 'failed')], false), 'partial');
  assert.equal(overallStatus([node('a', 'failed'), node('b', 'cancelled')], false), 'failed');
  assert.equal(overallStatus([], false), 'failed');
});

test('lost events are never a clean success: partial, with a reason naming each lossy node', () => {
  const nodes = [node('a', 'succeeded'), node('b', 'succeeded', 3)];
  assert.equal(overallStatus(nodes, false), 'partial');
  assert.equal(lossReason(nodes), "b lost 3 events (the kernel's ring buffer was full: the result is incomplete)");
  assert.equal(lossReason([node('a', 'succeeded', 1)])?.startsWith('a lost 1 event '), true);
  assert.equal(lossReason([node('a', 'succeeded')]), undefined);
});

test('a cancelled trace is cancelled whatever its nodes did', () => {
  assert.equal(overallStatus([node('a', 'succeeded')], true), 'cancelled');
});

test('queued and running are the only non-terminal statuses', () => {
  assert.deepEqual(
    (['queued', 'running', 'succeeded', 'partial', 'failed', 'cancelled'] as const).filter((s) => !isTerminal(s)),
    ['queued', 'running'],
  );
});
