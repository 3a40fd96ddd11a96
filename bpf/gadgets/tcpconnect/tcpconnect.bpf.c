/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tcpconnect — outgoing TCP connections and their outcome, from the
 * sock:inet_sock_set_state tracepoint.
 *
 * CLOSE -> SYN_SENT happens inside connect(2), in the connecting process: its
 * header (pid, comm, uid, cgroup) is recorded there, in `tcp_pending` keyed by
 * the struct sock pointer, and the cgroup filter is applied there, against
 * the connecting task's cgroup. The outcome (SYN_SENT -> ESTABLISHED, or
 * SYN_SENT -> CLOSE) usually runs in softirq context where `current` is an
 * unrelated task, so the event is emitted then with the saved header, the
 * addresses and ports from the tracepoint, and sk_err to tell a refused
 * connection (ECONNREFUSED) from a timed out one (ETIMEDOUT), etc.
 *
 * Record: struct tcpconnect_event below (GADGET_RECORD); tcpconnect.ts builds its decoder
 * from the layout in this object's BTF, so the struct is the only declaration.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "gadget_common.h"

#define TC_AF_INET 2
#define TC_AF_INET6 10
#define TC_IPPROTO_TCP 6
#define TC_TCP_ESTABLISHED 1
#define TC_TCP_SYN_SENT 2
#define TC_TCP_CLOSE 7

struct tcpconnect_config {
	bool filter_by_cgroup;
	__u8 pad;
	__u16 port; /* destination port, host order; 0: any */
};

const volatile struct tcpconnect_config config = {};

struct tcpconnect_event {
	struct gadget_event_header hdr;
	__u64 latency_ns;
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 newstate;
	__u8 pad;
	__s32 sk_err;
	__u32 pad2;
	__u8 saddr[16];
	__u8 daddr[16];
};

GADGET_RECORD(tcpconnect_event);

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct gadget_event_header);
} tcp_pending SEC(".maps");

SEC("tracepoint/sock/inet_sock_set_state")
int tracepoint__sock__inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	struct gadget_event_header hdr, *pending;
	struct tcpconnect_event *e;
	__u64 sk = (__u64)ctx->skaddr;
	int oldstate = ctx->oldstate, newstate = ctx->newstate;
	__u16 family = ctx->family;

	if (ctx->protocol != TC_IPPROTO_TCP)
		return 0;
	if (newstate == TC_TCP_SYN_SENT) {
		if (config.port && ctx->dport != config.port)
			return 0;
		if (!gadget_cgroup_allowed(config.filter_by_cgroup))
			return 0;
		gadget_fill_header(&hdr);
		bpf_map_update_elem(&tcp_pending, &sk, &hdr, BPF_ANY);
		return 0;
	}
	if (oldstate != TC_TCP_SYN_SENT)
		return 0;
	pending = bpf_map_lookup_elem(&tcp_pending, &sk);
	if (!pending)
		return 0;
	e = gadget_reserve(sizeof(*e));
	if (e) {
		__builtin_memcpy(&e->hdr, pending, sizeof(e->hdr));
		e->hdr.ts_boot_ns = bpf_ktime_get_boot_ns();
		e->latency_ns = e->hdr.ts_boot_ns - pending->ts_boot_ns;
		e->family = family;
		e->sport = ctx->sport;
		e->dport = ctx->dport;
		e->newstate = newstate;
		e->pad = 0;
		e->pad2 = 0;
		e->sk_err = BPF_CORE_READ((struct sock *)ctx->skaddr, sk_err);
		if (family == TC_AF_INET6) {
			bpf_probe_read_kernel(e->saddr, 16, ctx->saddr_v6);
			bpf_probe_read_kernel(e->daddr, 16, ctx->daddr_v6);
		} else {
			__builtin_memset(e->saddr, 0, 16);
			__builtin_memset(e->daddr, 0, 16);
			bpf_probe_read_kernel(e->saddr, 4, ctx->saddr);
			bpf_probe_read_kernel(e->daddr, 4, ctx->daddr);
		}
		gadget_submit(e);
	}
	bpf_map_delete_elem(&tcp_pending, &sk);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
