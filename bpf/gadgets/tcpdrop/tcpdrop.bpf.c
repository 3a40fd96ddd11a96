/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tcpdrop — packets the kernel dropped (skb:kfree_skb, as a raw tracepoint:
 * its first three arguments, skb, location and reason, are the same from 5.17
 * on), with the drop reason, attributed to the socket the packet belongs to
 * (skb->sk: one rule on every kernel; the rx_sk argument of 6.12+ is not
 * used). Drops of packets
 * that belong to no socket (most received packets dropped before the socket
 * lookup) cannot be attributed to a cgroup: they are reported only with the
 * cgroup filter off (cgroupIds 'all'), with cgroup id 0.
 *
 * Despite the name it covers every protocol (the `protocol` param narrows
 * it); freeing without a drop (SKB_CONSUMED, SKB_NOT_DROPPED_YET) is skipped.
 *
 * Two modes (config.stream): summary (default) counts drops in the kernel in
 * `tcpdrop_counts`, one entry per (socket cgroup, task, reason, protocol,
 * addresses, ports, state), read once at the end; stream sends one record
 * per drop through the ring buffer. A full counts table is counted in
 * `tcpdrop_counts_full` (per CPU), never silent.
 *
 * Records: struct tcpdrop_event (stream) and struct tcpdrop_count_entry (the
 * key and value of tcpdrop_counts, side by side) below (GADGET_RECORD);
 * tcpdrop.ts builds their decoders from the layouts in this object's BTF, so
 * the structs are the only declaration.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "gadget_common.h"

#define TD_ETH_P_IP 0x0800
#define TD_ETH_P_IPV6 0x86DD
#define TD_AF_INET 2
#define TD_AF_INET6 10
#define TD_IPPROTO_TCP 6
#define TD_IPPROTO_UDP 17

struct tcpdrop_config {
	bool filter_by_cgroup;
	__u8 protocol; /* IPPROTO_*; 0: every protocol */
	__u8 stream;   /* 1: a record per drop; 0: counts in tcpdrop_counts */
	__u8 pad;
};

const volatile struct tcpdrop_config config = {};

struct tcpdrop_event {
	struct gadget_event_header hdr;
	__u64 location; /* kernel address of the code that dropped it */
	__u32 reason;   /* enum skb_drop_reason of this kernel */
	__u16 family;   /* AF_INET / AF_INET6, 0 when the packet is not IP */
	__u16 sport;    /* host order; TCP and UDP */
	__u16 dport;
	__u8 protocol;  /* IPPROTO_* */
	__u8 tcp_flags; /* TCP: the flags byte of the header */
	__u8 state;     /* TCP_* of the socket, 0 without one */
	__u8 has_sock;
	__u16 pad;
	__u8 saddr[16];
	__u8 daddr[16];
};

GADGET_RECORD(tcpdrop_event);

/* What a drop is counted by: the event's members but the time and the location. */
struct tcpdrop_count_key {
	__u64 cgroup_id; /* the socket's cgroup, 0 without a socket */
	__u32 pid;       /* as hdr.pid of a record: 0 unless the task runs in that cgroup */
	__u32 reason;
	char comm[GADGET_COMM_LEN];
	__u16 family;
	__u16 sport;
	__u16 dport;
	__u8 protocol;
	__u8 state;
	__u8 has_sock;
	__u8 pad[7];
	__u8 saddr[16];
	__u8 daddr[16];
};

struct tcpdrop_count {
	__u64 packets;
	__u64 last_ns;   /* boot-time ns of the latest drop */
	__u64 location;  /* where the latest drop happened */
	__u32 tcp_flags; /* the TCP flags of every dropped segment, OR-ed */
	__u32 pad;
};

/* The layout of one tcpdrop_counts entry as the reader sees it: key then value. */
struct tcpdrop_count_entry {
	struct tcpdrop_count_key key;
	struct tcpdrop_count value;
};

GADGET_RECORD(tcpdrop_count_entry);

#define TCPDROP_COUNTS_MAX 16384

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPDROP_COUNTS_MAX);
	__type(key, struct tcpdrop_count_key);
	__type(value, struct tcpdrop_count);
} tcpdrop_counts SEC(".maps");

/* Drops not counted because tcpdrop_counts was full. */
GADGET_COUNTER(tcpdrop_counts_full);

/* Scratch for building a drop's key (too big for the stack with the event). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcpdrop_event);
} tcpdrop_scratch SEC(".maps");

static __always_inline void count_drop(struct tcpdrop_event *e)
{
	struct tcpdrop_count_key key = {};
	struct tcpdrop_count *c, zero = {};

	key.cgroup_id = e->hdr.cgroup_id;
	key.pid = e->hdr.pid;
	key.reason = e->reason;
	__builtin_memcpy(key.comm, e->hdr.comm, sizeof(key.comm));
	key.family = e->family;
	key.sport = e->sport;
	key.dport = e->dport;
	key.protocol = e->protocol;
	key.state = e->state;
	key.has_sock = e->has_sock;
	__builtin_memcpy(key.saddr, e->saddr, sizeof(key.saddr));
	__builtin_memcpy(key.daddr, e->daddr, sizeof(key.daddr));
	c = gadget_lookup_or_insert(&tcpdrop_counts, &key, &zero, &tcpdrop_counts_full);
	if (!c)
		return;
	__sync_fetch_and_add(&c->packets, 1);
	/* plain stores (atomic OR needs BPF v3): two CPUs dropping the same flow at once may lose a
	 * flag bit or keep either one's time and location; the packet count is exact */
	c->tcp_flags |= e->tcp_flags;
	c->last_ns = e->hdr.ts_boot_ns;
	c->location = e->location;
}

/* Read the IP and TCP/UDP headers of skb into e; false when it is not IP. */
static __always_inline bool read_headers(struct sk_buff *skb, struct tcpdrop_event *e)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	__u16 proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	__u16 ports[2] = {};

	if (proto == TD_ETH_P_IP) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return false;
		e->family = TD_AF_INET;
		e->protocol = ip.protocol;
		__builtin_memcpy(e->saddr, &ip.saddr, 4);
		__builtin_memcpy(e->daddr, &ip.daddr, 4);
		/* before the IP layer set it, the transport header is right after the IP header */
		if (th == (__u16)~0U || th == nh)
			th = nh + ip.ihl * 4;
	} else if (proto == TD_ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return false;
		e->family = TD_AF_INET6;
		e->protocol = ip6.nexthdr;
		__builtin_memcpy(e->saddr, &ip6.saddr, 16);
		__builtin_memcpy(e->daddr, &ip6.daddr, 16);
		if (th == (__u16)~0U || th == nh)
			th = nh + sizeof(ip6);
	} else {
		return false;
	}
	if (e->protocol == TD_IPPROTO_TCP || e->protocol == TD_IPPROTO_UDP) {
		if (!bpf_probe_read_kernel(ports, sizeof(ports), head + th)) {
			e->sport = bpf_ntohs(ports[0]);
			e->dport = bpf_ntohs(ports[1]);
		}
		if (e->protocol == TD_IPPROTO_TCP)
			bpf_probe_read_kernel(&e->tcp_flags, 1, head + th + 13);
	}
	return true;
}

SEC("raw_tp/kfree_skb")
int BPF_PROG(raw_tp__kfree_skb, struct sk_buff *skb, void *location, int reason)
{
	struct tcpdrop_event *e;
	struct sock *sk;
	struct cgroup *cgrp;
	__u32 index = 0;

	if (reason == 0 /* SKB_NOT_DROPPED_YET */)
		return 0;
	if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_CONSUMED) &&
	    reason == bpf_core_enum_value(enum skb_drop_reason, SKB_CONSUMED))
		return 0;
	sk = BPF_CORE_READ(skb, sk);
	cgrp = gadget_sock_cgroup(sk);
	if (!gadget_cgroup_ptr_allowed(config.filter_by_cgroup, cgrp))
		return 0;
	e = config.stream ? gadget_reserve(sizeof(*e)) : bpf_map_lookup_elem(&tcpdrop_scratch, &index);
	if (!e)
		return 0;
	__builtin_memset(&e->location, 0, sizeof(*e) - sizeof(e->hdr));
	if (!read_headers(skb, e))
		e->family = 0;
	if (config.protocol && e->protocol != config.protocol) {
		if (config.stream)
			bpf_ringbuf_discard(e, 0);
		return 0;
	}
	gadget_fill_header_for_cgroup(&e->hdr, gadget_cgroup_id_of(cgrp));
	e->location = (__u64)location;
	e->reason = reason;
	if (sk) {
		e->has_sock = 1;
		e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	}
	if (config.stream)
		bpf_ringbuf_submit(e, 0);
	else
		count_drop(e);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
