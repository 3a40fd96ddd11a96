/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * dns — DNS queries of the target containers and their answers, seen as
 * packets: UDP to or from port 53, at net_dev_queue (every packet sent) and
 * netif_receive_skb (every packet received), attached as raw tracepoints.
 *
 * A query (sent, destination port 53) belongs to the sending socket's cgroup
 * (skb->sk); it is remembered by (client port, DNS id) with its header and
 * time. An answer (source port 53) is matched to its query by (destination
 * port, DNS id): it gets the query's header, and the latency; answers to no
 * remembered query are not reported. On loopback an answer is both sent and
 * received: the first sighting consumes the query, so it is reported once.
 *
 * The DNS message itself (its first DNS_MSG_MAX bytes) is copied as is;
 * dns.ts parses the name, type, response code and answer addresses.
 *
 * Record: struct dns_event below (GADGET_RECORD); dns.ts builds its decoder
 * from the layout in this object's BTF, so the struct is the only declaration.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "gadget_common.h"

#define DNS_PORT 53
#define DNS_MSG_MAX 512
#define DNS_ETH_P_IP 0x0800
#define DNS_ETH_P_IPV6 0x86DD
#define DNS_IPPROTO_UDP 17
#define DNS_AF_INET 2
#define DNS_AF_INET6 10

struct dns_config {
	bool filter_by_cgroup;
};

const volatile struct dns_config config = {};

struct dns_event {
	struct gadget_event_header hdr;
	__u64 latency_ns; /* answers: query sent -> answer seen */
	__u16 family;
	__u16 sport;      /* host order */
	__u16 dport;
	__u16 msg_len;    /* bytes of the DNS message (may exceed what msg holds) */
	__u8 is_answer;
	__u8 pad[7];
	__u8 saddr[16];
	__u8 daddr[16];
	__u8 msg[DNS_MSG_MAX];
};

GADGET_RECORD(dns_event);

struct dns_query_key {
	__u16 client_port;
	__u16 id;
};

struct dns_query {
	struct gadget_event_header hdr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct dns_query_key);
	__type(value, struct dns_query);
} dns_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dns_event);
} dns_scratch SEC(".maps");

static __always_inline int dns_packet(struct sk_buff *skb)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
	struct dns_query_key key = {};
	struct dns_query *q, query;
	struct dns_event *e;
	struct udphdr udp;
	__u32 zero = 0, th, len;
	__u16 id;
	__u8 l4;

	e = bpf_map_lookup_elem(&dns_scratch, &zero);
	if (!e)
		return 0;
	if (proto == DNS_ETH_P_IP) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return 0;
		l4 = ip.protocol;
		th = nh + ip.ihl * 4;
		e->family = DNS_AF_INET;
		__builtin_memset(e->saddr, 0, sizeof(e->saddr));
		__builtin_memset(e->daddr, 0, sizeof(e->daddr));
		__builtin_memcpy(e->saddr, &ip.saddr, 4);
		__builtin_memcpy(e->daddr, &ip.daddr, 4);
	} else if (proto == DNS_ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return 0;
		l4 = ip6.nexthdr; /* no extension headers */
		th = nh + sizeof(ip6);
		e->family = DNS_AF_INET6;
		__builtin_memcpy(e->saddr, &ip6.saddr, 16);
		__builtin_memcpy(e->daddr, &ip6.daddr, 16);
	} else {
		return 0;
	}
	if (l4 != DNS_IPPROTO_UDP || bpf_probe_read_kernel(&udp, sizeof(udp), head + th))
		return 0;
	e->sport = bpf_ntohs(udp.source);
	e->dport = bpf_ntohs(udp.dest);
	if (e->sport != DNS_PORT && e->dport != DNS_PORT)
		return 0;
	len = bpf_ntohs(udp.len);
	if (len < sizeof(udp) + 12)
		return 0;
	len -= sizeof(udp);
	if (bpf_probe_read_kernel(&id, sizeof(id), head + th + sizeof(udp)))
		return 0;
	e->msg_len = len;
	e->is_answer = e->sport == DNS_PORT;
	key.client_port = e->is_answer ? e->dport : e->sport;
	key.id = id;

	if (!e->is_answer) {
		struct cgroup *cgrp = gadget_sock_cgroup(BPF_CORE_READ(skb, sk));

		if (!gadget_cgroup_ptr_allowed(config.filter_by_cgroup, cgrp))
			return 0;
		gadget_fill_header_for_cgroup(&query.hdr, gadget_cgroup_id_of(cgrp));
		bpf_map_update_elem(&dns_pending, &key, &query, BPF_ANY);
		__builtin_memcpy(&e->hdr, &query.hdr, sizeof(e->hdr));
		e->latency_ns = 0;
	} else {
		q = bpf_map_lookup_elem(&dns_pending, &key);
		if (!q)
			return 0;
		__builtin_memcpy(&e->hdr, &q->hdr, sizeof(e->hdr));
		e->hdr.ts_boot_ns = bpf_ktime_get_boot_ns();
		e->latency_ns = e->hdr.ts_boot_ns - q->hdr.ts_boot_ns;
		bpf_map_delete_elem(&dns_pending, &key);
	}
	if (len > DNS_MSG_MAX)
		len = DNS_MSG_MAX;
	__builtin_memset(e->msg, 0, sizeof(e->msg));
	bpf_probe_read_kernel(e->msg, len & (DNS_MSG_MAX - 1) ? len & (DNS_MSG_MAX - 1) : DNS_MSG_MAX,
			      head + th + sizeof(udp));
	if (bpf_ringbuf_output(&events, e, sizeof(*e), 0))
		gadget_count_drop();
	return 0;
}

SEC("raw_tp/net_dev_queue")
int BPF_PROG(raw_tp__net_dev_queue, struct sk_buff *skb)
{
	return dns_packet(skb);
}

SEC("raw_tp/netif_receive_skb")
int BPF_PROG(raw_tp__netif_receive_skb, struct sk_buff *skb)
{
	return dns_packet(skb);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
