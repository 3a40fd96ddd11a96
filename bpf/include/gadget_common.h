/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * gadget_common.h — what every tracejob gadget shares.
 *
 * Include it once per gadget, after vmlinux.h and the libbpf headers:
 *
 *   #include "vmlinux.h"
 *   #include <bpf/bpf_helpers.h>
 *   #include <bpf/bpf_tracing.h>
 *   #include <bpf/bpf_core_read.h>
 *   #include "gadget_common.h"
 *
 * It defines, in the including object:
 *   - map `cgroup_filter` (HASH, key __u64 cgroup id, value __u8, 1024 entries):
 *     the runner puts the target containers' cgroup ids here;
 *   - map `events` (RINGBUF, GADGET_RINGBUF_SIZE bytes, default 256 KiB; the
 *     runner sizes it at load from the node's CPU count, setMapMaxEntries);
 *   - map `drops` (PERCPU_ARRAY, 1 entry, __u64): failed ring-buffer reserves;
 *   - struct gadget_event_header (48 bytes), the first member of every record;
 *   - gadget_cgroup_allowed() (the current task), gadget_cgroup_ptr_allowed()
 *     (a socket's cgroup: gadget_sock_cgroup()), gadget_reserve(), gadget_fill_header(),
 *     GADGET_COUNTER() (a per-CPU count) and gadget_lookup_or_insert() (for
 *     the gadgets that count in hash maps),
 *     gadget_submit() / gadget_output() (submit with the wake-up policy below);
 *   - read-only global `gadget_filter_ancestor_levels` (__u32, default 0): bit N
 *     set also admits a task whose cgroup ancestor at level N (the v2 root is
 *     level 0) is in cgroup_filter. The runner sets it (setGlobal) to the levels
 *     of pod cgroups, so containers a pod starts later are traced from their
 *     first instruction without a rescan. 0 costs nothing: the verifier knows
 *     the frozen value and drops the loop.
 *   - GADGET_RECORD(name): puts `struct name` in the object's BTF even when
 *     the code only reaches it through pointers. The TypeScript decoder reads
 *     the record layout from that BTF (bpf/src/record-layout.ts), so the C
 *     struct is the one declaration of it: declare each record struct with it.
 *
 * Wake-ups: a record is submitted with BPF_RB_NO_WAKEUP — the traced task does
 * not pay for waking the reader once per event; the runner's reader thread
 * polls the ring every few milliseconds anyway — until the ring is a quarter
 * full, from where each submit forces a wake-up so that a burst is drained
 * before it overflows.
 *
 * Config convention: each gadget has ONE read-only struct global
 *   const volatile struct <gadget>_config config = {};
 * whose first field is `bool filter_by_cgroup`; JS sets it before load with
 *   obj.setGlobal('config', buf).
 *
 * License: each gadget declares its own
 *   char LICENSE[] SEC("license") = "Dual BSD/GPL";
 * (GPL-compatible: several helpers used here are GPL-only).
 */
#ifndef TRACEJOB_GADGET_COMMON_H
#define TRACEJOB_GADGET_COMMON_H

#ifndef GADGET_RINGBUF_SIZE
#define GADGET_RINGBUF_SIZE (256 * 1024)
#endif

#ifndef GADGET_CGROUP_FILTER_MAX
#define GADGET_CGROUP_FILTER_MAX 1024
#endif

#define GADGET_COMM_LEN 16

/* A typed, never-read .rodata pointer: clang emits BTF for the types of
 * globals, and this one costs 8 bytes. */
#define GADGET_RECORD(name) \
	struct name *const gadget_record_##name __attribute__((unused))

/* Common record header: 48 bytes, naturally aligned, no padding. */
struct gadget_event_header {
	__u64 ts_boot_ns; /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;  /* bpf_get_current_cgroup_id() (cgroup v2 inode) */
	__u32 pid;        /* tgid */
	__u32 tid;        /* kernel pid of the thread */
	__u32 ppid;       /* real_parent->tgid */
	__u32 uid;
	char comm[GADGET_COMM_LEN];
};

_Static_assert(sizeof(struct gadget_event_header) == 48,
	       "gadget_event_header must be 48 bytes");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, GADGET_CGROUP_FILTER_MAX);
	__type(key, __u64);
	__type(value, __u8);
} cgroup_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, GADGET_RINGBUF_SIZE);
} events SEC(".maps");

/* A per-CPU counter: PERCPU_ARRAY of one __u64 (the reader sums the CPUs). */
#define GADGET_COUNTER(name)                        \
	struct {                                    \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); \
		__uint(max_entries, 1);             \
		__type(key, __u32);                 \
		__type(value, __u64);               \
	} name SEC(".maps")

GADGET_COUNTER(drops);

#define GADGET_ANCESTOR_LEVELS_MAX 32

/* In a section of its own, so that every gadget's `config` stays at the start of .rodata. */
const volatile __u32 gadget_filter_ancestor_levels SEC(".rodata.filter") = 0;

/* The id of the ancestor at `level` (0: the root) of cgroup `cgrp`, or of
 * the current task's cgroup when cgrp is NULL; 0 when deeper than it, or
 * when the kernel keeps no cgroup.ancestors pointers (before 6.0). */
static __always_inline __u64 gadget_cgroup_ancestor_id(struct cgroup *cgrp, int level)
{
	struct cgroup *ancestor = NULL;

	if (!cgrp)
		return bpf_get_current_ancestor_cgroup_id(level);
	if (!bpf_core_field_exists(cgrp->ancestors))
		return 0;
	if (level > BPF_CORE_READ(cgrp, level))
		return 0;
	if (bpf_core_read(&ancestor, sizeof(ancestor), &cgrp->ancestors[level]) || !ancestor)
		return 0;
	return BPF_CORE_READ(ancestor, kn, id);
}

/* True when `cgid` (of cgroup `cgrp`, or of the current task's when NULL),
 * or its ancestor's at one of the levels of gadget_filter_ancestor_levels,
 * is in cgroup_filter. */
static __always_inline bool gadget_filter_matches(__u64 cgid, struct cgroup *cgrp)
{
	int level;

	if (bpf_map_lookup_elem(&cgroup_filter, &cgid))
		return true;
	if (!gadget_filter_ancestor_levels)
		return false;
	for (level = 0; level < GADGET_ANCESTOR_LEVELS_MAX; level++) {
		if (!(gadget_filter_ancestor_levels & (1u << level)))
			continue;
		cgid = gadget_cgroup_ancestor_id(cgrp, level);
		if (!cgid)
			break; /* deeper than the cgroup itself */
		if (bpf_map_lookup_elem(&cgroup_filter, &cgid))
			return true;
	}
	return false;
}

/* True when the current task may be traced: always when filtering is off,
 * otherwise when its cgroup id, or its ancestor's at one of the levels of
 * gadget_filter_ancestor_levels, is in cgroup_filter. */
static __always_inline bool gadget_cgroup_allowed(bool filter_enabled)
{
	return !filter_enabled || gadget_filter_matches(bpf_get_current_cgroup_id(), NULL);
}

/* gadget_cgroup_allowed() for a cgroup found elsewhere than in the current
 * task (a socket's, when the event runs in softirq or timer context): its own
 * id, or its ancestor's at one of the levels of gadget_filter_ancestor_levels
 * (pod-level matching, as for tasks). No cgroup (a packet of no socket)
 * passes only with the filter off. */
static __always_inline bool gadget_cgroup_ptr_allowed(bool filter_enabled, struct cgroup *cgrp)
{
	if (!filter_enabled)
		return true;
	return cgrp && gadget_filter_matches(BPF_CORE_READ(cgrp, kn, id), cgrp);
}

/* Add one to a GADGET_COUNTER. */
static __always_inline void gadget_counter_inc(void *counter)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(counter, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* Count one lost record (called when a reserve fails). */
static __always_inline void gadget_count_drop(void)
{
	gadget_counter_inc(&drops);
}

/* The value of `key` in the hash map `map`, inserted as `init` when absent
 * (another CPU inserting it meanwhile is fine: -EEXIST, then found); NULL
 * when the map is full, counted in the GADGET_COUNTER `full`. For the
 * gadgets that count in the kernel instead of sending records. */
static __always_inline void *gadget_lookup_or_insert(void *map, const void *key, const void *init, void *full)
{
	void *value = bpf_map_lookup_elem(map, key);

	if (value)
		return value;
	bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	value = bpf_map_lookup_elem(map, key);
	if (!value)
		gadget_counter_inc(full);
	return value;
}

/* Reserve `size` bytes in the events ring buffer; on failure count a drop
 * and return NULL. `size` must be a compile-time constant (sizeof(*rec)).
 * Every non-NULL result must be bpf_ringbuf_submit()ed or _discard()ed. */
static __always_inline void *gadget_reserve(__u64 size)
{
	void *rec = bpf_ringbuf_reserve(&events, size, 0);

	if (!rec)
		gadget_count_drop();
	return rec;
}

/* BPF_RB_NO_WAKEUP, or BPF_RB_FORCE_WAKEUP once a quarter of the ring waits. */
static __always_inline __u64 gadget_wakeup_flags(void)
{
	__u64 waiting = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 size = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);

	return waiting >= size / 4 ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* Submit a record from gadget_reserve(). */
static __always_inline void gadget_submit(void *rec)
{
	bpf_ringbuf_submit(rec, gadget_wakeup_flags());
}

/* Copy `size` bytes (may vary at run time: variable-length records) into the
 * ring; on failure count a drop. */
static __always_inline void gadget_output(void *data, __u64 size)
{
	if (bpf_ringbuf_output(&events, data, size, gadget_wakeup_flags()))
		gadget_count_drop();
}

/* Fill the common header from the current task. */
static __always_inline void gadget_fill_header(struct gadget_event_header *h)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	h->ts_boot_ns = bpf_ktime_get_boot_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->uid = (__u32)bpf_get_current_uid_gid();
	/* older kernels (6.1) leave the bytes after the NUL as they were: zero them,
	 * since the gadgets that count in the kernel key their maps by comm */
	__builtin_memset(h->comm, 0, sizeof(h->comm));
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* The header of an event that belongs to cgroup `cgid` (a socket's owner):
 * the task fields are the current task's only when it runs in that cgroup;
 * otherwise (softirq, timers) they are zero and comm is empty. */
static __always_inline void gadget_fill_header_for_cgroup(struct gadget_event_header *h, __u64 cgid)
{
	gadget_fill_header(h);
	if (h->cgroup_id == cgid)
		return;
	h->cgroup_id = cgid;
	h->pid = 0;
	h->tid = 0;
	h->ppid = 0;
	h->uid = 0;
	__builtin_memset(h->comm, 0, sizeof(h->comm));
}

/* The cgroup v2 cgroup a socket was created in (sk->sk_cgrp_data), NULL for no socket. */
static __always_inline struct cgroup *gadget_sock_cgroup(struct sock *sk)
{
	return sk ? BPF_CORE_READ(sk, sk_cgrp_data.cgroup) : NULL;
}

/* Its id (the cgroup directory's inode), 0 for none. */
static __always_inline __u64 gadget_cgroup_id_of(struct cgroup *cgrp)
{
	return cgrp ? BPF_CORE_READ(cgrp, kn, id) : 0;
}

#endif /* TRACEJOB_GADGET_COMMON_H */
