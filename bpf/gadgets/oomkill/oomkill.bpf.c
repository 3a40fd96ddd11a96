/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * oomkill — OOM kills, from the oom:mark_victim tracepoint, attached as a raw
 * tracepoint to get the victim's struct task_struct (the plain tracepoint
 * only gives its pid).
 *
 * The header describes the VICTIM (pid, tid, ppid, comm, uid from the
 * tracepoint) and its cgroup v2 id (task->cgroups->dfl_cgrp->kn->id), and the
 * cgroup filter is applied to the victim's cgroup — not to `current`, which
 * is whichever task ran into the limit and invoked the OOM killer. That task
 * is recorded as the trigger.
 *
 * Record: struct oomkill_event below (GADGET_RECORD); oomkill.ts builds its decoder
 * from the layout in this object's BTF, so the struct is the only declaration.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "gadget_common.h"

/* enum mm_counter_type */
#define OOM_MM_FILEPAGES 0
#define OOM_MM_ANONPAGES 1
#define OOM_MM_SHMEMPAGES 3

struct oomkill_config {
	bool filter_by_cgroup;
};

const volatile struct oomkill_config config = {};

struct oomkill_event {
	struct gadget_event_header hdr;
	__u64 total_vm_pages;
	__u64 anon_rss_pages;
	__u64 file_rss_pages;
	__u64 shmem_rss_pages;
	__u32 trigger_pid;
	__s16 oom_score_adj;
	__u16 pad;
	char trigger_comm[16];
};

GADGET_RECORD(oomkill_event);

/* Before Linux 6.2 the counters were atomics in one struct mm_rss_stat, since then percpu_counters. */
struct mm_rss_stat___pre62 {
	atomic_long_t count[4];
};

struct mm_struct___pre62 {
	struct mm_rss_stat___pre62 rss_stat;
};

static __always_inline __u64 oom_counter(struct mm_struct *mm, int i)
{
	__s64 v;

	if (bpf_core_type_exists(struct mm_rss_stat___pre62))
		v = BPF_CORE_READ((struct mm_struct___pre62 *)mm, rss_stat.count[i].counter);
	else
		v = BPF_CORE_READ(mm, rss_stat[i].count);
	return v < 0 ? 0 : v;
}

SEC("raw_tp/mark_victim")
int BPF_PROG(raw_tp__mark_victim, struct task_struct *task, uid_t uid)
{
	struct oomkill_event *e;
	struct mm_struct *mm;
	__u64 cgid;

	cgid = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	if (config.filter_by_cgroup && !bpf_map_lookup_elem(&cgroup_filter, &cgid))
		return 0;
	e = gadget_reserve(sizeof(*e));
	if (!e)
		return 0;
	e->hdr.ts_boot_ns = bpf_ktime_get_boot_ns();
	e->hdr.cgroup_id = cgid;
	e->hdr.pid = BPF_CORE_READ(task, tgid);
	e->hdr.tid = BPF_CORE_READ(task, pid);
	e->hdr.ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->hdr.uid = uid;
	bpf_probe_read_kernel_str(e->hdr.comm, sizeof(e->hdr.comm), task->comm);
	mm = BPF_CORE_READ(task, mm);
	e->total_vm_pages = BPF_CORE_READ(mm, total_vm);
	e->anon_rss_pages = oom_counter(mm, OOM_MM_ANONPAGES);
	e->file_rss_pages = oom_counter(mm, OOM_MM_FILEPAGES);
	e->shmem_rss_pages = oom_counter(mm, OOM_MM_SHMEMPAGES);
	e->oom_score_adj = BPF_CORE_READ(task, signal, oom_score_adj);
	e->trigger_pid = bpf_get_current_pid_tgid() >> 32;
	e->pad = 0;
	bpf_get_current_comm(e->trigger_comm, sizeof(e->trigger_comm));
	gadget_submit(e);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
