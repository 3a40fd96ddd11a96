/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * bind — bind(2): socket family, address (IPv4/IPv6), port, protocol and
 * socket type (read from the fd's struct sock when the fd is a socket), and
 * the result. The optional port filter (config.port, host order, 0 = any)
 * is applied in the kernel at sys_enter.
 *
 * Record: struct bind_event below (GADGET_RECORD); bind.ts builds its decoder
 * from the layout in this object's BTF, so the struct is the only declaration.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "gadget_common.h"

#define BIND_AF_INET 2
#define BIND_AF_INET6 10

struct bind_config {
	bool filter_by_cgroup;
	__u8 pad;
	__u16 port; /* host order; 0: any port */
};

const volatile struct bind_config config = {};

struct bind_event {
	struct gadget_event_header hdr;
	__s32 ret;
	__s32 fd;
	__u16 family;
	__u16 port;
	__u16 protocol;
	__u16 sock_type;
	__u8 addr[16];
};

GADGET_RECORD(bind_event);

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, struct bind_event);
} bind_inflight SEC(".maps");

/* The struct sock behind `fd` of the current task, or NULL when it is not a socket. */
static __always_inline struct sock *bind_fd_sock(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *file = NULL;
	struct socket *sock;

	if (!fdt || fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	if (!file)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	/* a socket's file points back at it; anything else is not a socket */
	if (!sock || BPF_CORE_READ(sock, file) != file)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

SEC("tracepoint/syscalls/sys_enter_bind")
int tracepoint__syscalls__sys_enter_bind(struct trace_event_raw_sys_enter *ctx)
{
	struct bind_event e = {};
	const void *uaddr = (const void *)ctx->args[1];
	__u32 addrlen = ctx->args[2];
	struct sockaddr_in6 sa6 = {};
	struct sockaddr_in sa4 = {};
	struct sock *sk;
	__u32 tid;

	if (!gadget_cgroup_allowed(config.filter_by_cgroup))
		return 0;
	e.fd = ctx->args[0];
	bpf_probe_read_user(&e.family, sizeof(e.family), uaddr);
	if (e.family == BIND_AF_INET && addrlen >= sizeof(sa4)) {
		bpf_probe_read_user(&sa4, sizeof(sa4), uaddr);
		e.port = bpf_ntohs(sa4.sin_port);
		__builtin_memcpy(e.addr, &sa4.sin_addr.s_addr, 4);
	} else if (e.family == BIND_AF_INET6 && addrlen >= sizeof(sa6)) {
		bpf_probe_read_user(&sa6, sizeof(sa6), uaddr);
		e.port = bpf_ntohs(sa6.sin6_port);
		__builtin_memcpy(e.addr, &sa6.sin6_addr, 16);
	}
	if (config.port && e.port != config.port)
		return 0;
	sk = bind_fd_sock(e.fd);
	if (sk) {
		e.protocol = BPF_CORE_READ(sk, sk_protocol);
		e.sock_type = BPF_CORE_READ(sk, sk_type);
	}
	tid = (__u32)bpf_get_current_pid_tgid();
	if (bpf_map_update_elem(&bind_inflight, &tid, &e, BPF_ANY))
		gadget_count_drop(); /* in-flight table full: counted as lost */
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int tracepoint__syscalls__sys_exit_bind(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct bind_event *pending, *e;

	pending = bpf_map_lookup_elem(&bind_inflight, &tid);
	if (!pending)
		return 0;
	e = gadget_reserve(sizeof(*e));
	if (e) {
		__builtin_memcpy(e, pending, sizeof(*e));
		gadget_fill_header(&e->hdr);
		e->ret = ctx->ret;
		gadget_submit(e);
	}
	bpf_map_delete_elem(&bind_inflight, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
