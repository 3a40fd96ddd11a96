/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * mount — mount(2), umount2(2), fsmount(2) and move_mount(2) with their
 * source, target, filesystem type, flags and result.
 *
 * At sys_enter the arguments (strings from user memory) are copied into a
 * per-thread in-flight entry (cgroup filter checked there, against the
 * caller); at sys_exit the result is added and the entry is sent as is.
 *
 * Record: struct mount_event below (GADGET_RECORD); mount.ts builds its decoder
 * from the layout in this object's BTF, so the struct is the only declaration.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "gadget_common.h"

#define MOUNT_PATH_MAX 256
#define MOUNT_FSTYPE_MAX 32

/* which call (mount.ts names them in this order) */
#define MOUNT_OP_MOUNT 0
#define MOUNT_OP_UMOUNT 1
#define MOUNT_OP_FSMOUNT 2
#define MOUNT_OP_MOVE_MOUNT 3

struct mount_config {
	bool filter_by_cgroup;
	bool failed_only;
};

const volatile struct mount_config config = {};

struct mount_event {
	struct gadget_event_header hdr;
	__u64 flags;      /* MS_* / MNT_* / FSMOUNT_* / MOVE_MOUNT_* of the call */
	__u32 attr_flags; /* fsmount: MOUNT_ATTR_* */
	__s32 ret;
	__s32 from_fd;    /* fsmount: the fs context fd; move_mount: from_dfd */
	__s32 to_fd;      /* move_mount: to_dfd */
	__u8 op;          /* MOUNT_OP_* */
	__u8 pad[7];
	char source[MOUNT_PATH_MAX]; /* mount: source; move_mount: from path */
	char target[MOUNT_PATH_MAX]; /* mount, umount: target; move_mount: to path */
	char fstype[MOUNT_FSTYPE_MAX];
};

GADGET_RECORD(mount_event);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mount_event);
} mount_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct mount_event);
} mount_inflight SEC(".maps");

/* A zeroed scratch record for the current call, or NULL when it is not traced. */
static __always_inline struct mount_event *mount_begin(__u8 op)
{
	struct mount_event *e;
	__u32 zero = 0;

	if (!gadget_cgroup_allowed(config.filter_by_cgroup))
		return NULL;
	e = bpf_map_lookup_elem(&mount_scratch, &zero);
	if (!e)
		return NULL;
	__builtin_memset(e, 0, sizeof(*e));
	e->op = op;
	return e;
}

static __always_inline void mount_park(struct mount_event *e)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();

	if (bpf_map_update_elem(&mount_inflight, &tid, e, BPF_ANY))
		gadget_count_drop(); /* in-flight table full: counted as lost */
}

SEC("tracepoint/syscalls/sys_enter_mount")
int tracepoint__syscalls__sys_enter_mount(struct trace_event_raw_sys_enter *ctx)
{
	struct mount_event *e = mount_begin(MOUNT_OP_MOUNT);

	if (!e)
		return 0;
	bpf_probe_read_user_str(e->source, sizeof(e->source), (const char *)ctx->args[0]);
	bpf_probe_read_user_str(e->target, sizeof(e->target), (const char *)ctx->args[1]);
	bpf_probe_read_user_str(e->fstype, sizeof(e->fstype), (const char *)ctx->args[2]);
	e->flags = ctx->args[3];
	mount_park(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_umount")
int tracepoint__syscalls__sys_enter_umount(struct trace_event_raw_sys_enter *ctx)
{
	struct mount_event *e = mount_begin(MOUNT_OP_UMOUNT);

	if (!e)
		return 0;
	bpf_probe_read_user_str(e->target, sizeof(e->target), (const char *)ctx->args[0]);
	e->flags = ctx->args[1];
	mount_park(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_fsmount")
int tracepoint__syscalls__sys_enter_fsmount(struct trace_event_raw_sys_enter *ctx)
{
	struct mount_event *e = mount_begin(MOUNT_OP_FSMOUNT);

	if (!e)
		return 0;
	e->from_fd = ctx->args[0];
	e->flags = ctx->args[1];
	e->attr_flags = ctx->args[2];
	mount_park(e);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_move_mount")
int tracepoint__syscalls__sys_enter_move_mount(struct trace_event_raw_sys_enter *ctx)
{
	struct mount_event *e = mount_begin(MOUNT_OP_MOVE_MOUNT);

	if (!e)
		return 0;
	e->from_fd = ctx->args[0];
	bpf_probe_read_user_str(e->source, sizeof(e->source), (const char *)ctx->args[1]);
	e->to_fd = ctx->args[2];
	bpf_probe_read_user_str(e->target, sizeof(e->target), (const char *)ctx->args[3]);
	e->flags = ctx->args[4];
	mount_park(e);
	return 0;
}

static __always_inline int mount_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct mount_event *e = bpf_map_lookup_elem(&mount_inflight, &tid);

	if (!e)
		return 0;
	if (!config.failed_only || ret < 0) {
		gadget_fill_header(&e->hdr);
		e->ret = ret;
		if (bpf_ringbuf_output(&events, e, sizeof(*e), 0))
			gadget_count_drop();
	}
	bpf_map_delete_elem(&mount_inflight, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_mount")
int tracepoint__syscalls__sys_exit_mount(struct trace_event_raw_sys_exit *ctx)
{
	return mount_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_umount")
int tracepoint__syscalls__sys_exit_umount(struct trace_event_raw_sys_exit *ctx)
{
	return mount_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_fsmount")
int tracepoint__syscalls__sys_exit_fsmount(struct trace_event_raw_sys_exit *ctx)
{
	return mount_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_move_mount")
int tracepoint__syscalls__sys_exit_move_mount(struct trace_event_raw_sys_exit *ctx)
{
	return mount_exit(ctx->ret);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
