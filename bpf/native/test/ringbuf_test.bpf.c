// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Test and benchmark program for bpf-native: one 64-byte record per getppid()
 * of the target process, through the common gadget header and maps. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "gadget_common.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct ringbuf_test_config {
	bool filter_by_cgroup;
	__u8 pad[3];
	__u32 target_tgid; /* 0: every process */
	__u64 cookie;      /* copied into every record */
};

const volatile struct ringbuf_test_config config = {};

/* .data and .bss globals, for setGlobal tests */
__u32 data_marker = 7;
__u64 seq_counter;

struct ringbuf_test_record {
	struct gadget_event_header hdr; /* 48 */
	__u64 seq;                      /* 56 */
	__u64 cookie;                   /* 64 */
};

/* a plain hash map and a per-CPU counter, for map API tests */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} test_kv SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int handle_getppid(void *ctx)
{
	struct ringbuf_test_record *rec;
	__u32 zero = 0;
	__u64 *hit;

	if (config.target_tgid && (bpf_get_current_pid_tgid() >> 32) != config.target_tgid)
		return 0;
	if (!gadget_cgroup_allowed(config.filter_by_cgroup))
		return 0;
	hit = bpf_map_lookup_elem(&hits, &zero);
	if (hit)
		*hit += 1;
	rec = gadget_reserve(sizeof(*rec));
	if (!rec)
		return 0;
	gadget_fill_header(&rec->hdr);
	rec->seq = __sync_fetch_and_add(&seq_counter, 1);
	rec->cookie = config.cookie;
	bpf_ringbuf_submit(rec, 0);
	return 0;
}
