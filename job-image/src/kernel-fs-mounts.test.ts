import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kernelTestSkipReason } from '../../test/support/cgroups.ts';
import { ensureKernelFilesystems, mountPointsByType } from './kernel-fs-mounts.ts';

test('mount points are grouped by filesystem type', () => {
  const byType = mountPointsByType(`42 23 0:39 / /sys/fs/bpf rw,relatime - bpf bpf rw
43 23 0:13 / /sys/kernel/tracing rw,relatime - tracefs tracefs rw
44 23 0:13 / /sys/kernel/debug/tracing rw,relatime - tracefs tracefs rw`);
  assert.deepEqual(byType.get('bpf'), ['/sys/fs/bpf']);
  assert.deepEqual(byType.get('tracefs'), ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']);
});

test('on this machine bpffs and tracefs are present (or get mounted)', { skip: kernelTestSkipReason() }, () => {
  const status = ensureKernelFilesystems();
  assert.deepEqual(status.map((s) => s.fs), ['bpf', 'tracefs']);
  for (const s of status) assert.notEqual(s.action, 'failed', `${s.fs}: ${s.error}`);
});
