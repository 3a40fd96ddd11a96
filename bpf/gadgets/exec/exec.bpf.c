/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * exec — execve(2)/execveat(2) with filename, argv and return value.
 *
 * At sys_enter the filename and the first EXEC_ARGS_MAX arguments are copied
 * (they live in the old address space, gone after a successful exec) into a
 * per-process in-flight entry; at sys_exit the return value is added and the
 * record is emitted with only the bytes used (compact variable-length record).
 *
 * Record: struct exec_event below (GADGET_RECORD); exec.ts builds its decoder
 * from the layout in this object's BTF, so the struct is the only declaration.
 *
 * In-flight entries are keyed by tgid, not tid: after a successful exec from a
 * non-leader thread the kernel gives the thread the leader's id.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "gadget_common.h"

#define EXEC_FILENAME_MAX 256
#define EXEC_ARG_MAX 128
#define EXEC_ARGS_MAX 20
#define EXEC_BUF_SIZE (EXEC_FILENAME_MAX + EXEC_ARGS_MAX * EXEC_ARG_MAX)

#define EXEC_FLAG_FILENAME_TRUNCATED 1 /* filename longer than 255 bytes */
#define EXEC_FLAG_ARG_TRUNCATED 2      /* an argument longer than 127 bytes was cut */
#define EXEC_FLAG_ARGS_DROPPED 4       /* more than EXEC_ARGS_MAX arguments */
#define EXEC_FLAG_EXECVEAT 8           /* the call was execveat(2) */
#define EXEC_FLAG_ARGV_UNREADABLE 16   /* argv or an argument could not be read */

struct exec_config {
	bool filter_by_cgroup;
	bool failed_only; /* emit only execs that returned an error */
};

const volatile struct exec_config config = {};

struct exec_event {
	struct gadget_event_header hdr;
	__s32 retval;
	__u32 buf_len;
	__u16 argc;
	__u8 flags;
	__u8 pad[5];
	char buf[EXEC_BUF_SIZE];
};

GADGET_RECORD(exec_event);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exec_event);
} exec_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct exec_event);
} exec_inflight SEC(".maps");

/* State of the argv copy, shared with its bpf_loop callback. */
struct exec_argv_copy {
	const char *const *argv;
	struct exec_event *e;
	__u32 off;
	__u32 argc;
	__u8 flags;
};

/*
 * Copies argv[i] after the bytes already used; returns 1 to stop. A bpf_loop callback is verified
 * once, where an open-coded loop is verified once per iteration and per path: that made this
 * gadget's load take ~40x longer than the others', on every trace start.
 */
static long exec_copy_arg(__u32 i, void *data)
{
	struct exec_argv_copy *c = data;
	const char *arg = NULL;
	__u32 off = c->off;
	long n;
	char last = 0;

	if (bpf_probe_read_user(&arg, sizeof(arg), &c->argv[i])) {
		c->flags |= EXEC_FLAG_ARGV_UNREADABLE;
		return 1;
	}
	if (!arg)
		return 1;
	if (off > EXEC_BUF_SIZE - EXEC_ARG_MAX)
		return 1;
	n = bpf_probe_read_user_str(&c->e->buf[off], EXEC_ARG_MAX, arg);
	if (n <= 0) {
		c->flags |= EXEC_FLAG_ARGV_UNREADABLE;
		return 1;
	}
	if (n == EXEC_ARG_MAX) {
		bpf_probe_read_user(&last, 1, arg + EXEC_ARG_MAX - 1);
		if (last)
			c->flags |= EXEC_FLAG_ARG_TRUNCATED;
	}
	c->off = off + n;
	c->argc++;
	return 0;
}

static __always_inline int exec_enter(const char *filename, const char *const *argv, __u8 flags)
{
	struct exec_argv_copy copy = { .argv = argv };
	struct exec_event *e;
	__u32 zero = 0, tgid;
	const char *arg;
	long n;
	char c;

	if (!gadget_cgroup_allowed(config.filter_by_cgroup))
		return 0;
	e = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!e)
		return 0;

	n = bpf_probe_read_user_str(e->buf, EXEC_FILENAME_MAX, filename);
	if (n <= 0) {
		e->buf[0] = 0;
		n = 1;
	} else if (n == EXEC_FILENAME_MAX) {
		c = 0;
		bpf_probe_read_user(&c, 1, filename + EXEC_FILENAME_MAX - 1);
		if (c)
			flags |= EXEC_FLAG_FILENAME_TRUNCATED;
	}
	copy.e = e;
	copy.off = n;
	copy.flags = flags;
	bpf_loop(EXEC_ARGS_MAX, exec_copy_arg, &copy, 0);
	flags = copy.flags;
	if (copy.argc == EXEC_ARGS_MAX) {
		arg = NULL;
		bpf_probe_read_user(&arg, sizeof(arg), &argv[EXEC_ARGS_MAX]);
		if (arg)
			flags |= EXEC_FLAG_ARGS_DROPPED;
	}

	e->buf_len = copy.off;
	e->argc = copy.argc;
	e->flags = flags;
	e->retval = 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_update_elem(&exec_inflight, &tgid, e, BPF_ANY))
		gadget_count_drop(); /* in-flight table full: counted as lost */
	return 0;
}

static __always_inline int exec_exit(long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct exec_event *e;
	__u32 len;

	e = bpf_map_lookup_elem(&exec_inflight, &tgid);
	if (!e)
		return 0;
	if (config.failed_only && ret >= 0)
		goto out;
	gadget_fill_header(&e->hdr);
	e->retval = ret;
	len = e->buf_len;
	if (len > EXEC_BUF_SIZE)
		len = EXEC_BUF_SIZE;
	gadget_output(e, __builtin_offsetof(struct exec_event, buf) + len);
out:
	bpf_map_delete_elem(&exec_inflight, &tgid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int tracepoint__syscalls__sys_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter((const char *)ctx->args[0], (const char *const *)ctx->args[1], 0);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int tracepoint__syscalls__sys_enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	return exec_enter((const char *)ctx->args[1], (const char *const *)ctx->args[2],
			  EXEC_FLAG_EXECVEAT);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int tracepoint__syscalls__sys_exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int tracepoint__syscalls__sys_exit_execveat(struct trace_event_raw_sys_exit *ctx)
{
	return exec_exit(ctx->ret);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
