import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RING_BUFFER_BYTES_PER_CPU, ringBufferBytesFor } from './ring-buffer-size.ts';

test('the ring is the next power of two of CPUs x bytes per CPU, within its bounds', () => {
  assert.equal(ringBufferBytesFor({ cpus: 2, bytesPerCpu: DEFAULT_RING_BUFFER_BYTES_PER_CPU }), 4 << 20);
  assert.equal(ringBufferBytesFor({ cpus: 3, bytesPerCpu: 1 << 20 }), 4 << 20, 'rounded up to a power of two');
  assert.equal(ringBufferBytesFor({ cpus: 1, bytesPerCpu: 4096 }), 256 << 10, 'never below 256 KiB');
  assert.equal(ringBufferBytesFor({ cpus: 512, bytesPerCpu: 4 << 20 }), 256 << 20, 'never above 256 MiB');
  assert.equal(ringBufferBytesFor({ cpus: 1, bytesPerCpu: 4096, minBytes: 4096 }), 4096);
  assert.equal(ringBufferBytesFor({ cpus: 64, bytesPerCpu: 1 << 20, maxBytes: 48 << 20 }), 32 << 20, 'the cap is a power of two too');
});

test('a CPU count or a size that is not a positive integer is refused, naming it', () => {
  assert.throws(() => ringBufferBytesFor({ cpus: 0, bytesPerCpu: 1 << 20 }), /cpus: 0/);
  assert.throws(() => ringBufferBytesFor({ cpus: 2, bytesPerCpu: 1.5 }), /bytesPerCpu: 1.5/);
  assert.throws(() => ringBufferBytesFor({ cpus: 2, bytesPerCpu: 1 << 20, minBytes: 1 << 20, maxBytes: 4096 }), /maxBytes/);
});
