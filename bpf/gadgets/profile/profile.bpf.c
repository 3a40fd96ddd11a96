/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * profile — on-CPU samples of the target cgroups, counted per (thread, stacks) in the kernel.
 *
 * The runner opens one CPU-clock perf event per CPU at `frequencyHz` and attaches
 * profile_sample to each (attachPerfEvent). A sample whose task is not in cgroup_filter
 * costs one hash lookup. A kept sample records its user and kernel stacks in
 * `stack_traces` (bpf_get_stackid) and adds one to its entry in `samples`; no record goes
 * through the ring buffer. The runner reads both maps at the end (and polls `samples`
 * during the trace to read /proc/<pid>/maps of each new process while it runs).
 *
 * Lost samples (not counted in `samples`), per CPU in `drops` (slot 0 of each counter of
 * struct profile_drops): a stack that collided with another in stack_traces (-EEXIST) or
 * did not fit (-ENOMEM/-E2BIG), and `samples` being full. A stack the kernel cannot walk
 * (-EFAULT: a user stack of a kernel thread, a kernel stack of a sample taken in user
 * mode) is not a loss: the sample is kept with that stack absent (id -1).
 *
 * Key of `samples` (little endian), mirrored by profile.ts:
 *   0   u64 cgroup_id
 *   8   u32 pid            tgid
 *   12  u32 tid
 *   16  u32 uid
 *   20  s32 user_stack_id  -1: none (not asked for, or not walkable)
 *   24  s32 kernel_stack_id
 *   28  char comm[16]      the thread's name
 *   44  u32 pad
 * Value: u64 sample count.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#define GADGET_RINGBUF_SIZE 4096 /* unused: samples are aggregated in maps */
#include "gadget_common.h"

#define PROFILE_STACK_DEPTH 127 /* PERF_MAX_STACK_DEPTH, kernel.perf_event_max_stack's default */
#define PROFILE_STACK_ENTRIES 16384
#define PROFILE_SAMPLE_ENTRIES 32768

#define PROFILE_EFAULT 14
#define PROFILE_EEXIST 17

struct profile_config {
	bool filter_by_cgroup;
	bool user_stacks;
	bool kernel_stacks;
};

const volatile struct profile_config config = {};

struct profile_key {
	__u64 cgroup_id;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 user_stack_id;
	__s32 kernel_stack_id;
	char comm[GADGET_COMM_LEN];
	__u32 pad;
};

_Static_assert(sizeof(struct profile_key) == 48, "profile_key layout");

/* Why samples were lost, per CPU (the runner sums; lostEvents is the total). */
struct profile_drops {
	__u64 stack_collision; /* -EEXIST: another stack holds the bucket */
	__u64 stack_error;     /* any other error than -EFAULT from bpf_get_stackid */
	__u64 samples_full;    /* `samples` had no room for a new key */
};

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, PROFILE_STACK_ENTRIES);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, PROFILE_STACK_DEPTH * sizeof(__u64));
} stack_traces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PROFILE_SAMPLE_ENTRIES);
	__type(key, struct profile_key);
	__type(value, __u64);
} samples SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct profile_drops);
} profile_drops SEC(".maps");

static __always_inline struct profile_drops *drop_counters(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&profile_drops, &zero);
}

/* A stack id, -1 when the stack cannot be walked; -2 when the sample is lost (counted). */
static __always_inline __s32 stack_id(void *ctx, __u64 flags)
{
	struct profile_drops *d;
	long id = bpf_get_stackid(ctx, &stack_traces, flags);

	if (id >= 0)
		return id;
	if (id == -PROFILE_EFAULT)
		return -1;
	d = drop_counters();
	if (d) {
		if (id == -PROFILE_EEXIST)
			__sync_fetch_and_add(&d->stack_collision, 1);
		else
			__sync_fetch_and_add(&d->stack_error, 1);
	}
	return -2;
}

SEC("perf_event")
int profile_sample(struct bpf_perf_event_data *ctx)
{
	struct profile_key key = {};
	struct profile_drops *d;
	__u64 pid_tgid, one = 1, *count;

	pid_tgid = bpf_get_current_pid_tgid();
	if (pid_tgid == 0) /* the idle task */
		return 0;
	if (!gadget_cgroup_allowed(config.filter_by_cgroup))
		return 0;

	key.user_stack_id = -1;
	key.kernel_stack_id = -1;
	if (config.user_stacks) {
		key.user_stack_id = stack_id(ctx, BPF_F_USER_STACK);
		if (key.user_stack_id == -2)
			return 0;
	}
	if (config.kernel_stacks) {
		key.kernel_stack_id = stack_id(ctx, 0);
		if (key.kernel_stack_id == -2)
			return 0;
	}
	key.cgroup_id = bpf_get_current_cgroup_id();
	key.pid = pid_tgid >> 32;
	key.tid = (__u32)pid_tgid;
	key.uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(key.comm, sizeof(key.comm));

	count = bpf_map_lookup_elem(&samples, &key);
	if (count) {
		__sync_fetch_and_add(count, 1);
		return 0;
	}
	/* BPF_NOEXIST: another CPU may have added the key since the lookup */
	if (bpf_map_update_elem(&samples, &key, &one, BPF_NOEXIST) == 0)
		return 0;
	count = bpf_map_lookup_elem(&samples, &key);
	if (count) {
		__sync_fetch_and_add(count, 1);
		return 0;
	}
	d = drop_counters();
	if (d)
		__sync_fetch_and_add(&d->samples_full, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
