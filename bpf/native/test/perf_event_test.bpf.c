// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Test program for bpf-native's attachPerfEvent: counts the CPU-clock samples that
 * hit the target process, per CPU, in a hash map. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 target_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);   /* CPU */
	__type(value, __u64); /* samples of the target on that CPU */
} samples_by_cpu SEC(".maps");

SEC("perf_event")
int count_sample(struct bpf_perf_event_data *ctx)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 one = 1, *n;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	n = bpf_map_lookup_elem(&samples_by_cpu, &cpu);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&samples_by_cpu, &cpu, &one, BPF_NOEXIST);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int not_a_perf_program(void *ctx)
{
	return 0;
}
