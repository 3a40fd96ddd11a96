/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reference for the overhead benchmark: empty programs on the same tracepoints as the open gadget.
 * What they cost is the price of the syscall tracepoints themselves, before any gadget logic.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("tracepoint/syscalls/sys_enter_open") int floor_enter_open(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_enter_openat") int floor_enter_openat(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_enter_openat2") int floor_enter_openat2(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_exit_open") int floor_exit_open(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_exit_openat") int floor_exit_openat(void *ctx) { return 0; }
SEC("tracepoint/syscalls/sys_exit_openat2") int floor_exit_openat2(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "Dual BSD/GPL";
