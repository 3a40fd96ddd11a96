import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WatchStatus } from './api-types.ts';
import { eventRow, formatProgressLine, formatSummary, formatTracingNotice, renderTable, timeOf } from './format-output.ts';
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
  counts: { events: 12, lostEvents: 3, nodesTracing: 2, nodesDone: 2, nodesTotal: 2 },
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
  assert.match(text, /WARNING: 3 events were lost in the kernel .*incomplete/);
  assert.match(text, /n2 +failed +0 +3 +pod unschedulable/);
  assert.match(text, /top comm\nCOUNT +COMM\n9 +sh\n3 +ls\n/);
});

test('a profile summary shows the samples and the top functions by self and total samples, with their share', () => {
  const text = formatSummary({ ...status, status: 'succeeded', gadget: 'profile' }, {
    events: 3,
    lostEvents: 0,
    truncated: false,
    perNode: [],
    top: {},
    profile: {
      frequencyHz: 49,
      samples: 200,
      stacks: 3,
      topSelf: [
        { frame: 'burn_cpu', samples: 150 },
        { frame: 'memcpy_[k]', samples: 50 },
      ],
      topTotal: [{ frame: 'main', samples: 200 }],
      perContainer: [],
    },
  });
  assert.match(text, /200 CPU samples at 49 Hz, 3 distinct stacks/);
  assert.match(text, /top functions \(self\)\nSAMPLES +SHARE +FUNCTION\n150 +75\.0% +burn_cpu\n50 +25\.0% +memcpy_\[k\]\n/);
  assert.match(text, /top functions \(total\)\nSAMPLES +SHARE +FUNCTION\n200 +100\.0% +main\n/);
});

test('the progress line shows elapsed/duration, nodes tracing and done, events, and lost events loudly', () => {
  assert.equal(
    formatProgressLine({ ...status, status: 'running', elapsedSeconds: 12.7, counts: { events: 5, lostEvents: 0, nodesTracing: 2, nodesDone: 1, nodesTotal: 2 } }),
    'running    12s/30s  tracing 2/2  done 1/2  events 5',
  );
  assert.match(formatProgressLine(status), /LOST 3$/);
});

test('"tracing on N/N nodes" is said only once every planned node is tracing', () => {
  const running = (nodesTracing: number, nodesTotal: number): WatchStatus => ({
    ...status,
    status: 'running',
    nodes: [
      { node: 'n1', status: 'running', events: 0, lostEvents: 0, tracingSince: '2026-12-01T10:00:01.250Z' },
      { node: 'n2', status: 'running', events: 0, lostEvents: 0, ...(nodesTracing > 1 ? { tracingSince: '2026-12-01T10:00:01.750Z' } : {}) },
    ],
    counts: { events: 0, lostEvents: 0, nodesTracing, nodesDone: 0, nodesTotal },
  });
  assert.equal(formatTracingNotice(running(1, 2)), undefined);
  assert.equal(formatTracingNotice(running(0, 0)), undefined);
  assert.equal(formatTracingNotice(running(2, 2)), 'tracing on 2/2 nodes since 10:00:01.750: reproduce the problem now');
});

test('an event row puts gadget fields into details', () => {
  const row = eventRow({ timestamp: '1700000000123456789', node: 'n1', namespace: 'shop', pod: 'web', pid: 7, comm: 'sh', gadget: 'exec', args: ['ls', '-l'], retval: 0 });
  assert.deepEqual(row, ['22:13:20.123456789', 'n1', 'shop/web', '', '7', 'sh', 'args=["ls","-l"] retval=0']);
});

test('event times keep every nanosecond of the exact timestamp; a number (older results) to the millisecond', () => {
  assert.equal(timeOf('1700000000000000001'), '22:13:20.000000001');
  assert.equal(timeOf('1700000000999999999'), '22:13:20.999999999');
  assert.equal(timeOf(1_700_000_000_123_000_000), '22:13:20.123000000');
  assert.equal(timeOf('soon'), '');
  assert.equal(timeOf(undefined), '');
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
