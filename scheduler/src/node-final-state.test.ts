/** How a node's final state follows from its runner's outcome and what it uploaded (nodeFinalState). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeResultCounts } from '../../state/src/trace-store.ts';
import { nodeFinalState } from './trace-worker.ts';

const NOW = '2026-12-01T20:00:00.000Z';
const uploaded: NodeResultCounts = { events: 12, lostEvents: 0, truncated: false, stopReason: 'duration', bytes: 900, uploadedAt: NOW };
const lostError = 'node n1 became NotReady during the trace (Ready=Unknown); its results are lost';

test('a node lost after its runner uploaded keeps its result: succeeded, no error', () => {
  const s = nodeFinalState(undefined, { node: 'n1', status: 'failed', error: lostError, lost: true }, uploaded, NOW);
  assert.equal(s.status, 'succeeded');
  assert.equal(s.events, 12);
  assert.equal(s.error, undefined);
});

test('a node lost before any upload fails with the reason naming it', () => {
  const s = nodeFinalState(undefined, { node: 'n1', status: 'failed', error: lostError, lost: true }, undefined, NOW);
  assert.equal(s.status, 'failed');
  assert.equal(s.error, lostError);
});

test('a runner that failed on its own still fails, even when something was uploaded', () => {
  const s = nodeFinalState(undefined, { node: 'n1', status: 'failed', error: 'exit code 1' }, uploaded, NOW);
  assert.equal(s.status, 'failed');
  assert.equal(s.error, 'exit code 1');
});

test('a lost node whose upload says the runner stopped on an error fails with that error', () => {
  const s = nodeFinalState(undefined, { node: 'n1', status: 'failed', error: lostError, lost: true }, { ...uploaded, stopReason: 'error', error: 'ring buffer: ENOMEM' }, NOW);
  assert.equal(s.status, 'failed');
  assert.equal(s.error, lostError);
});
