// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Loads fine, but its second program names a tracepoint that does not exist:
 * attach() must fail naming that program and leave nothing attached. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* counts the calls seen by handle_present: must stay 0 after the failed attach */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} present_calls SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int handle_present(void *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&present_calls, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_no_such_syscall_tracejob")
int handle_missing(void *ctx) { return 0; }
