import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { kernelTestSkipReason } from '../../test/support/cgroups.ts';
import type * as Native from '../native/index.js';
import { asUnsupported, GadgetUnsupportedError, missingFeature } from './gadget-unsupported.ts';
import { findRepoRoot, nativeAddonPath } from './repo-paths.ts';

const root = findRepoRoot();
const addon = (await import(pathToFileURL(nativeAddonPath(root)).href)) as typeof Native;

/** The error the real kernel and libbpf give for `step` of the object built from `source`. */
function failureOf(objectPath: string, step: 'load' | 'attach'): Error {
  const o = addon.BpfObject.open(objectPath);
  try {
    o.load();
    if (step === 'attach') o.attach();
  } catch (err) {
    return err as Error;
  } finally {
    o.close();
  }
  throw new Error(`${step} of ${objectPath} did not fail`);
}

describe('gadgets a kernel cannot run', { skip: kernelTestSkipReason() }, () => {
  test('a tracepoint the kernel does not have is named as the missing feature', () => {
    execFileSync('make', ['-s', '-C', join(root, 'bpf'), join(root, 'bpf/native/test/attach_fail_test.bpf.o')]);
    const err = failureOf(join(root, 'bpf/native/test/attach_fail_test.bpf.o'), 'attach');
    assert.equal(missingFeature(err), 'tracepoint syscalls:sys_enter_no_such_syscall_tracejob');
    const typed = asUnsupported('exec', err);
    assert.ok(typed instanceof GadgetUnsupportedError);
    assert.equal(typed.feature, 'tracepoint syscalls:sys_enter_no_such_syscall_tracejob');
    assert.match(typed.message, /gadget exec is not supported on kernel .+: it lacks tracepoint syscalls:sys_enter_no_such_syscall_tracejob/);
    assert.equal(typed.cause, err);
  });

  test('a struct field a CO-RE relocation cannot find in the kernel is named as the missing feature', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tj-core-'));
    try {
      writeFileSync(
        join(dir, 'missing_field.bpf.c'),
        `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
struct task_struct___tj { int no_such_field_tracejob; } __attribute__((preserve_access_index));
char LICENSE[] SEC("license") = "GPL";
SEC("tracepoint/syscalls/sys_enter_getppid")
int reads_missing(void *ctx)
{
	struct task_struct___tj *t = (void *)bpf_get_current_task();
	return BPF_CORE_READ(t, no_such_field_tracejob);
}
`,
      );
      execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-D__TARGET_ARCH_x86', `-I${join(root, 'bpf/include')}`, '-c', join(dir, 'missing_field.bpf.c'), '-o', join(dir, 'missing_field.bpf.o')]);
      const err = failureOf(join(dir, 'missing_field.bpf.o'), 'load');
      assert.equal(missingFeature(err), 'struct task_struct___tj.no_such_field_tracejob');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('other failures stay as they are', () => {
    const err = Object.assign(new Error('bpf_map_update_elem failed: E2BIG'), { code: 'E2BIG', op: 'bpf_map_update_elem' });
    assert.equal(missingFeature(err), undefined);
    assert.equal(asUnsupported('exec', err), err);
  });
});
