/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tcpretrans — TCP retransmissions, from the tcp_retransmit_skb and
 * tcp_retransmit_synack tracepoints, attached as raw tracepoints: their
 * arguments (struct sock *, ...) are the same on every kernel since 4.15,
 * while the formatted tracepoint's struct was renamed in 6.x.
 *
 * Retransmits run mostly from the retransmit timer (softirq), where the
 * current task is unrelated: the event belongs to the socket's cgroup
 * (sk->sk_cgrp_data), the cgroup filter is checked against it, and the task
 * fields are filled only when the current task is in that cgroup.
 *
 * Record: struct tcpretrans_event below (GADGET_RECORD); tcpretrans.ts builds its decoder
 * from the layout in this object's BTF, so the struct is the only declaration.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "gadget_common.h"

#define TR_AF_INET6 10
#define TR_TCP_SYN_SENT 2

/* what was retransmitted */
#define TR_TYPE_DATA 0   /* a data or FIN segment of a connection */
#define TR_TYPE_SYN 1    /* the SYN of a connect() */
#define TR_TYPE_SYNACK 2 /* the SYN-ACK of a listener */

struct tcpretrans_config {
	bool filter_by_cgroup;
	__u8 pad;
	__u16 port; /* local or remote port, host order; 0: any */
};

const volatile struct tcpretrans_config config = {};

struct tcpretrans_event {
	struct gadget_event_header hdr;
	__u16 family;
	__u16 sport; /* host order */
	__u16 dport; /* host order */
	__u8 state;  /* TCP_* of the socket */
	__u8 type;   /* TR_TYPE_* */
	__u8 saddr[16];
	__u8 daddr[16];
};

GADGET_RECORD(tcpretrans_event);

static __always_inline int emit(struct sock_common *skc, struct cgroup *cgrp, __u8 type)
{
	struct tcpretrans_event *e;
	__u16 family = BPF_CORE_READ(skc, skc_family);
	__u16 sport = BPF_CORE_READ(skc, skc_num);
	__u16 dport = bpf_ntohs(BPF_CORE_READ(skc, skc_dport));

	if (config.port && sport != config.port && dport != config.port)
		return 0;
	if (!gadget_cgroup_ptr_allowed(config.filter_by_cgroup, cgrp))
		return 0;
	e = gadget_reserve(sizeof(*e));
	if (!e)
		return 0;
	gadget_fill_header_for_cgroup(&e->hdr, gadget_cgroup_id_of(cgrp));
	e->family = family;
	e->sport = sport;
	e->dport = dport;
	e->state = BPF_CORE_READ(skc, skc_state);
	e->type = type == TR_TYPE_DATA && e->state == TR_TCP_SYN_SENT ? TR_TYPE_SYN : type;
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	if (family == TR_AF_INET6) {
		BPF_CORE_READ_INTO(e->saddr, skc, skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(e->daddr, skc, skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)e->saddr, skc, skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->daddr, skc, skc_daddr);
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(raw_tp__tcp_retransmit_skb, struct sock *sk)
{
	return emit(&sk->__sk_common, gadget_sock_cgroup(sk), TR_TYPE_DATA);
}

SEC("raw_tp/tcp_retransmit_synack")
int BPF_PROG(raw_tp__tcp_retransmit_synack, struct sock *listener, struct request_sock *req)
{
	return emit(&req->__req_common, gadget_sock_cgroup(listener), TR_TYPE_SYNACK);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
