import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WatchStatus } from './api-types.ts';
import { eventRow, formatProgressLine, formatSummary, renderTable } from './format-output.ts';
import { SseParser } from './sse-parser.ts';

const status: WatchStatus = {
  id: 'abc',
  status: 'partial',
  gadget: 'exec',
  durationSeconds: 30,
  elapsedSeconds: 31.4,
  nodes: [
    { node: 'n1', status: 'succeeded', events: 12, lostEvents: 0, stopReason: 'deadline' },
    { node: 'n2', status: 'failed', events: 0, lostEvents: 3, error: 'pod unschedulable' },
  ],
  counts: { events: 12, lostEvents: 3, nodesDone: 2, nodesTotal: 2 },
};

test('renderTable aligns columns to the widest cell', () => {
  assert.equal(renderTable(['A', 'LONGER'], [['xxx', 'y'], ['z', 'w']]), 'A    LONGER\nxxx  y\nz    w\n');
});

test('the summary shows status, counts, each node and the top values', () => {
  const text = formatSummary(status, {
    events: 12,
    lostEvents: 3,
    truncated: false,
    perNode: [],
    top: { comm: [{ value: 'sh', count: 9 }, { value: 'ls', count: 3 }] },
  });
  assert.match(text, /trace abc partial: 12 events, 3 lost, 2\/2 nodes/);
  assert.match(text, /n2 +failed +0 +3 +pod unschedulable/);
  assert.match(text, /top comm\nCOUNT +COMM\n9 +sh\n3 +ls\n/);
});

test('the progress line caps nothing and shows elapsed/duration, nodes and events', () => {
  assert.equal(formatProgressLine({ ...status, status: 'running', elapsedSeconds: 12.7, counts: { events: 5, lostEvents: 0, nodesDone: 1, nodesTotal: 2 } }), 'running    12s/30s  nodes 1/2  events 5');
  assert.match(formatProgressLine(status), /lost 3$/);
});

test('an event row puts gadget fields into details', () => {
  const row = eventRow({ timestamp: 1_700_000_000_123_000_000, node: 'n1', namespace: 'shop', pod: 'web', pid: 7, comm: 'sh', gadget: 'exec', args: ['ls', '-l'], retval: 0 });
  assert.deepEqual(row, ['22:13:20.123', 'n1', 'shop/web', '', '7', 'sh', 'args=["ls","-l"] retval=0']);
});

test('the SSE parser handles split chunks, comments and multi-line data', () => {
  const p = new SseParser();
  assert.deepEqual(p.push(': ping\n\nevent: sta'), []);
  assert.deepEqual(p.push('tus\ndata: {"a":1}\n'), []);
  assert.deepEqual(p.push('\ndata: x\r\ndata: y\r\n\r\n'), [
    { event: 'status', data: '{"a":1}' },
    { event: 'message', data: 'x\ny' },
  ]);
  assert.equal(p.comments, 1);
  assert.deepEqual(p.push(''), []);
  assert.deepEqual(new SseParser().push('data: x\ndata: y\n\n'), [{ event: 'message', data: 'x\ny' }]);
});
