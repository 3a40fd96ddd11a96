/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * open — open(2)/openat(2)/openat2(2): path, flags, mode and the resulting fd
 * or errno.
 *
 * At sys_enter the path (as the caller passed it, possibly relative) is read
 * and checked against the optional path prefix IN THE KERNEL (config.prefix,
 * byte-wise prefix of the path as passed: no resolution of ".." or of dirfd);
 * matching calls are kept per thread and emitted at sys_exit with the result.
 * failed_only (result < 0) is also applied in the kernel, at exit.
 *
 * Record: struct open_event below (GADGET_RECORD); open.ts builds its decoder
 * from the layout in this object's BTF, so the struct is the only declaration.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "gadget_common.h"

#define OPEN_PATH_MAX 256
#define OPEN_SYSCALL_OPEN 0
#define OPEN_SYSCALL_OPENAT 1
#define OPEN_SYSCALL_OPENAT2 2
#define OPEN_AT_FDCWD -100

struct open_config {
	bool filter_by_cgroup;
	bool failed_only;
	__u16 prefix_len; /* 0: no prefix filter; at most OPEN_PATH_MAX - 1 */
	char prefix[OPEN_PATH_MAX];
};

const volatile struct open_config config = {};

struct open_event {
	struct gadget_event_header hdr;
	__s32 ret;
	__u32 flags;
	__u32 mode;
	__u16 path_len;
	__u8 syscall;
	__u8 path_truncated;
	__s32 dirfd;
	__u32 pad;
	char path[OPEN_PATH_MAX];
};

GADGET_RECORD(open_event);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct open_event);
} open_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct open_event);
} open_inflight SEC(".maps");

static __always_inline bool open_prefix_matches(const char *path)
{
	__u32 len = config.prefix_len;
	int i;

	for (i = 0; i < OPEN_PATH_MAX - 1; i++) {
		if (i >= len)
			return true;
		if (path[i] != config.prefix[i])
			return false;
	}
	return true;
}

static __always_inline int open_enter(int dirfd, const char *filename, __u32 flags, __u32 mode,
				      __u8 syscall)
{
	struct open_event *e;
	__u32 zero = 0, tid;
	long n;
	char c;

	if (!gadget_cgroup_allowed(config.filter_by_cgroup))
		return 0;
	e = bpf_map_lookup_elem(&open_scratch, &zero);
	if (!e)
		return 0;
	n = bpf_probe_read_user_str(e->path, OPEN_PATH_MAX, filename);
	if (n <= 0) {
		e->path[0] = 0;
		n = 1;
	}
	e->path_truncated = 0;
	if (n == OPEN_PATH_MAX) {
		c = 0;
		bpf_probe_read_user(&c, 1, filename + OPEN_PATH_MAX - 1);
		if (c)
			e->path_truncated = 1;
	}
	if (config.prefix_len && !open_prefix_matches(e->path))
		return 0;
	e->path_len = n;
	e->flags = flags;
	e->mode = mode;
	e->syscall = syscall;
	e->dirfd = dirfd;
	e->ret = 0;
	e->pad = 0;
	tid = (__u32)bpf_get_current_pid_tgid();
	if (bpf_map_update_elem(&open_inflight, &tid, e, BPF_ANY))
		gadget_count_drop(); /* in-flight table full: counted as lost */
	return 0;
}

static __always_inline int open_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct open_event *e;
	__u32 len;

	e = bpf_map_lookup_elem(&open_inflight, &tid);
	if (!e)
		return 0;
	if (config.failed_only && ret >= 0)
		goto out;
	gadget_fill_header(&e->hdr);
	e->ret = ret;
	len = e->path_len;
	if (len > OPEN_PATH_MAX)
		len = OPEN_PATH_MAX;
	gadget_output(e, __builtin_offsetof(struct open_event, path) + len);
out:
	bpf_map_delete_elem(&open_inflight, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int tracepoint__syscalls__sys_enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(OPEN_AT_FDCWD, (const char *)ctx->args[0], ctx->args[1], ctx->args[2],
			  OPEN_SYSCALL_OPEN);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tracepoint__syscalls__sys_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return open_enter(ctx->args[0], (const char *)ctx->args[1], ctx->args[2], ctx->args[3],
			  OPEN_SYSCALL_OPENAT);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int tracepoint__syscalls__sys_enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how how = {};

	bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
	return open_enter(ctx->args[0], (const char *)ctx->args[1], how.flags, how.mode,
			  OPEN_SYSCALL_OPENAT2);
}

SEC("tracepoint/syscalls/sys_exit_open")
int tracepoint__syscalls__sys_exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int tracepoint__syscalls__sys_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int tracepoint__syscalls__sys_exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return open_exit(ctx->ret);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
