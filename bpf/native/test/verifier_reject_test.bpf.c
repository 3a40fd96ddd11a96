// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The verifier must refuse this program (it reads a map value without the
 * NULL check): load() must fail with the verifier's reason in the message. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counter SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int handle_unchecked(void *ctx)
{
	__u32 zero = 0;
	__u64 *v = bpf_map_lookup_elem(&counter, &zero);

	*v += 1; /* no NULL check: rejected */
	return 0;
}
