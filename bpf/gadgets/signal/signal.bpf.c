/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * signal — signal:signal_generate: every signal the kernel generates, with
 * the sender (the current task: its pid, comm and cgroup fill the header and
 * the cgroup filter applies to it), the target thread, the signal number, its
 * si_code and the result (delivered, ignored, already pending, ...).
 * Optional kernel-side filters: one signal number, and failed-only
 * (result != delivered).
 *
 * Record: struct signal_event below (GADGET_RECORD); signal.ts builds its decoder
 * from the layout in this object's BTF, so the struct is the only declaration.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "gadget_common.h"

struct signal_config {
	bool filter_by_cgroup;
	bool failed_only;
	__u8 pad[2];
	__s32 sig; /* 0: every signal */
};

const volatile struct signal_config config = {};

struct signal_event {
	struct gadget_event_header hdr;
	__s32 sig;
	__s32 errno_;
	__s32 code;
	__s32 target_pid;
	__s32 group;
	__s32 result;
	char target_comm[16];
};

GADGET_RECORD(signal_event);

SEC("tracepoint/signal/signal_generate")
int tracepoint__signal__signal_generate(struct trace_event_raw_signal_generate *ctx)
{
	struct signal_event *e;
	int sig = ctx->sig, result = ctx->result;

	if (config.sig && sig != config.sig)
		return 0;
	if (config.failed_only && result == 0)
		return 0;
	if (!gadget_cgroup_allowed(config.filter_by_cgroup))
		return 0;
	e = gadget_reserve(sizeof(*e));
	if (!e)
		return 0;
	gadget_fill_header(&e->hdr);
	e->sig = sig;
	e->errno_ = ctx->errno;
	e->code = ctx->code;
	e->target_pid = ctx->pid;
	e->group = ctx->group;
	e->result = result;
	bpf_probe_read_kernel(e->target_comm, sizeof(e->target_comm), ctx->comm);
	gadget_submit(e);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
