import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WatchStatus } from './api-types.ts';
import { formatBytes, formatLog2Histogram } from './format-gadget-tables.ts';
import { formatSummary } from './format-output.ts';

const status: WatchStatus = {
  id: 'abc',
  status: 'succeeded',
  gadget: 'blockio',
  durationSeconds: 5,
  elapsedSeconds: 5,
  nodes: [],
  counts: { events: 2, lostEvents: 0, nodesTracing: 1, nodesDone: 1, nodesTotal: 1 },
};
const empty = { events: 2, lostEvents: 0, truncated: false, perNode: [], top: {} };

test('a log2 histogram prints as biolatency does: ranges, counts and bars scaled to the largest slot', () => {
  assert.equal(
    formatLog2Histogram([0, 1, 4]),
    [
      ' usecs : count distribution',
      '0 -> 1 : 0     |                                        |',
      '2 -> 3 : 1     |**********                              |',
      '4 -> 7 : 4     |****************************************|',
      '',
    ].join('\n'),
  );
  assert.deepEqual([0, 1023, 1024, 12288, 3 << 20].map(formatBytes), ['0 B', '1023 B', '1.0 KiB', '12.0 KiB', '3.0 MiB']);
});

test('a blockio summary shows each disk and operation with its histogram, and the top processes with their pod', () => {
  const text = formatSummary(status, {
    ...empty,
    blockio: {
      mode: 'summary',
      requests: 5,
      bytes: 28672,
      errors: 0,
      perDevice: [
        { disk: 'loop3', device: '7:3', op: 'read', requests: 3, bytes: 12288, errors: 0, latencyNsTotal: 30_000, latencyNsMax: 15_000, latencyUsSlots: [0, 0, 1, 2] },
        { disk: 'loop3', device: '7:3', op: 'write', requests: 2, bytes: 16384, errors: 1, latencyNsTotal: 4_000_000, latencyNsMax: 3_000_000, latencyUsSlots: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1] },
      ],
      topProcesses: [{ pid: 42, comm: 'dd', cgroupId: 9, namespace: 'shop', pod: 'web-1', container: 'app', requests: 5, bytes: 28672, latencyNsTotal: 4_030_000 }],
    },
  });
  assert.match(text, /block I\/O \(summary\): 5 requests, 28\.0 KiB\n/);
  assert.match(text, /loop3 \(7:3\) read: 3 requests, 12\.0 KiB, avg 10 us, max 15 us\n +usecs : count +distribution\n +0 -> 1 : 0 +\| +\|\n +2 -> 3 : 0 +\|/);
  assert.match(text, /8 -> 15 : 2 +\|\*{40}\|\n/);
  assert.match(text, /loop3 \(7:3\) write: 2 requests, 16\.0 KiB, avg 2\.0 ms, max 3\.0 ms, 1 failed\n/);
  assert.match(text, /2048 -> 4095 : 1 +\|\*{40}\|\n/);
  assert.match(text, /top processes \(bytes\)\nBYTES +REQUESTS +AVG LAT +PID +COMM +OWNER\n28\.0 KiB +5 +806 us +42 +dd +shop\/web-1\/app\n/);
});

test('a tcpdrop summary shows drops per reason and the top flows with their owner', () => {
  const text = formatSummary(
    { ...status, gadget: 'tcpdrop' },
    {
      ...empty,
      tcpdrop: {
        mode: 'stream',
        drops: 4,
        perReason: [
          { reason: 'NETFILTER_DROP', drops: 3 },
          { reason: 'NO_SOCKET', drops: 1 },
        ],
        top: [
          { reason: 'NETFILTER_DROP', pid: 7, comm: 'curl', cgroupId: 11, protocol: 'tcp', saddr: '10.0.0.1', sport: 4000, daddr: 'fd00::2', dport: 80, state: 'SYN_SENT', drops: 3 },
          { reason: 'NO_SOCKET', pid: 0, comm: '', protocol: 'udp', saddr: '10.0.0.9', sport: 53, daddr: '10.0.0.1', dport: 5000, drops: 1, node: 'n2' },
        ],
      },
    },
  );
  assert.match(text, /packets dropped \(stream\): 4\n/);
  assert.match(text, /drops per reason\nDROPS +REASON\n3 +NETFILTER_DROP\n1 +NO_SOCKET\n/);
  assert.match(text, /3 +NETFILTER_DROP +tcp +10\.0\.0\.1:4000 +\[fd00::2\]:80 +SYN_SENT +7 +curl +cgroup 11\n/);
  assert.match(text, /1 +NO_SOCKET +udp +10\.0\.0\.9:53 +10\.0\.0\.1:5000 +@n2\n/);
});
