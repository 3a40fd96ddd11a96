/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * blockio — block I/O requests: device, operation, sector, bytes and the
 * latency from issue to completion, from block_rq_issue and
 * block_rq_complete attached as raw tracepoints (their first arguments,
 * struct request * and for completion the status and bytes, are the same on
 * every kernel of interest; the formatted structs are not).
 *
 * The task is the one that submitted the request's first bio: block_bio_queue
 * runs in the submitter's context (raw tracepoint, (struct bio *) since 5.11),
 * where the cgroup filter is checked and the header recorded by bio; at issue
 * (often from a kernel worker: plugging, the I/O scheduler) it moves to the
 * request, keyed by its pointer, with the issue time; the completion (irq or
 * a driver thread) emits it. Without a recorded bio the issuing task counts
 * when it passes the filter. Page-cache writeback is submitted by kernel
 * threads and so not attributed to a target.
 *
 * Two modes (config.stream): summary (default) aggregates at completion in
 * `blockio_stats`, one entry per (submitter's cgroup, pid, comm, disk, op):
 * requests, bytes, errors, latency total and maximum and a log2 histogram of
 * the latency in microseconds (as biolatency), read at the end of the trace;
 * stream sends one record per request through the ring buffer. A full stats
 * table is counted in `blockio_stats_full` (per CPU), never silent.
 *
 * Records: struct blockio_event (stream) and struct blockio_stats_entry (the
 * key and value of blockio_stats, side by side) below (GADGET_RECORD);
 * blockio.ts builds their decoders from the layouts in this object's BTF, so
 * the structs are the only declaration.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "gadget_common.h"

#define BLK_OP_MASK 0xff
#define BLK_DISK_NAME_LEN 32

struct blockio_config {
	bool filter_by_cgroup;
	__u8 stream;          /* 1: a record per request; 0: aggregate in blockio_stats */
	__u8 pad[2];
	__u32 min_latency_us; /* 0: every request */
};

const volatile struct blockio_config config = {};

struct blockio_event {
	struct gadget_event_header hdr;
	__u64 latency_ns; /* issue -> completion */
	__u64 sector;
	__u32 bytes;      /* at issue */
	__u32 cmd_flags;  /* REQ_OP_* in the low byte, REQ_* flags above */
	__s32 error;      /* blk_status_t at completion, 0: ok */
	__u32 major;
	__u32 minor;
	__u32 pad;
	char disk[BLK_DISK_NAME_LEN];
};

GADGET_RECORD(blockio_event);

/* Latency slots: slot 0 is 0-1 us, slot n (n > 0) is 2^n .. 2^(n+1)-1 us; the last one holds
 * everything from 2^26 us (67 s) up. */
#define BLOCKIO_LATENCY_SLOTS 27

struct blockio_stats_key {
	__u64 cgroup_id; /* the submitter's */
	__u32 pid;
	__u32 op;        /* REQ_OP_* */
	__u32 major;
	__u32 minor;
	char comm[GADGET_COMM_LEN];
	char disk[BLK_DISK_NAME_LEN];
};

struct blockio_stats {
	__u64 requests;
	__u64 bytes;
	__u64 errors;
	__u64 latency_ns_total;
	__u64 latency_ns_max;
	__u64 latency_us_slots[BLOCKIO_LATENCY_SLOTS];
};

/* The layout of one blockio_stats entry as the reader sees it: key then value. */
struct blockio_stats_entry {
	struct blockio_stats_key key;
	struct blockio_stats value;
};

GADGET_RECORD(blockio_stats_entry);

#define BLOCKIO_STATS_MAX 10240

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BLOCKIO_STATS_MAX);
	__type(key, struct blockio_stats_key);
	__type(value, struct blockio_stats);
} blockio_stats SEC(".maps");

/* Completed requests not counted because blockio_stats was full. */
GADGET_COUNTER(blockio_stats_full);

/* floor(log2(v)), 0 for 0 */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline void count_request(struct blockio_event *e, __u64 latency_ns, int error)
{
	struct blockio_stats_key key = {};
	struct blockio_stats *st, zero = {};
	__u64 slot; /* 64-bit: a 32-bit index loses its bound on older verifiers (6.1) */

	key.cgroup_id = e->hdr.cgroup_id;
	key.pid = e->hdr.pid;
	key.op = e->cmd_flags & BLK_OP_MASK;
	key.major = e->major;
	key.minor = e->minor;
	__builtin_memcpy(key.comm, e->hdr.comm, sizeof(key.comm));
	__builtin_memcpy(key.disk, e->disk, sizeof(key.disk));
	st = gadget_lookup_or_insert(&blockio_stats, &key, &zero, &blockio_stats_full);
	if (!st)
		return;
	slot = log2_u64(latency_ns / 1000);
	if (slot >= BLOCKIO_LATENCY_SLOTS)
		slot = BLOCKIO_LATENCY_SLOTS - 1;
	__sync_fetch_and_add(&st->requests, 1);
	__sync_fetch_and_add(&st->bytes, e->bytes);
	if (error)
		__sync_fetch_and_add(&st->errors, 1);
	__sync_fetch_and_add(&st->latency_ns_total, latency_ns);
	__sync_fetch_and_add(&st->latency_us_slots[slot], 1);
	/* a plain store (no atomic max): two completions racing on one entry may keep the smaller */
	if (latency_ns > st->latency_ns_max)
		st->latency_ns_max = latency_ns;
}

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct blockio_event);
} blockio_inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct gadget_event_header);
} blockio_submitted SEC(".maps");

SEC("raw_tp/block_bio_queue")
int BPF_PROG(raw_tp__block_bio_queue, struct bio *bio)
{
	struct gadget_event_header hdr;
	__u64 key = (__u64)bio;

	if (!gadget_cgroup_allowed(config.filter_by_cgroup))
		return 0;
	gadget_fill_header(&hdr);
	bpf_map_update_elem(&blockio_submitted, &key, &hdr, BPF_ANY);
	return 0;
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(raw_tp__block_rq_issue, struct request *rq)
{
	struct blockio_event e = {};
	struct gadget_event_header *submitter;
	struct gendisk *disk;
	__u64 key = (__u64)rq, bio = (__u64)BPF_CORE_READ(rq, bio);

	submitter = bio ? bpf_map_lookup_elem(&blockio_submitted, &bio) : NULL;
	if (submitter) {
		__builtin_memcpy(&e.hdr, submitter, sizeof(e.hdr));
		e.hdr.ts_boot_ns = bpf_ktime_get_boot_ns();
		bpf_map_delete_elem(&blockio_submitted, &bio);
	} else if (gadget_cgroup_allowed(config.filter_by_cgroup)) {
		gadget_fill_header(&e.hdr);
	} else {
		return 0;
	}
	disk = BPF_CORE_READ(rq, q, disk);
	e.major = BPF_CORE_READ(disk, major);
	e.minor = BPF_CORE_READ(disk, first_minor);
	bpf_probe_read_kernel_str(e.disk, sizeof(e.disk), disk->disk_name);
	e.sector = BPF_CORE_READ(rq, __sector);
	e.bytes = BPF_CORE_READ(rq, __data_len);
	e.cmd_flags = BPF_CORE_READ(rq, cmd_flags);
	if (bpf_map_update_elem(&blockio_inflight, &key, &e, BPF_ANY))
		gadget_count_drop(); /* in-flight table full: counted as lost */
	return 0;
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(raw_tp__block_rq_complete, struct request *rq, int error)
{
	__u64 key = (__u64)rq, now = bpf_ktime_get_boot_ns();
	struct blockio_event *pending, *e;

	pending = bpf_map_lookup_elem(&blockio_inflight, &key);
	if (!pending)
		return 0;
	if (!config.stream) {
		if (!config.min_latency_us || now - pending->hdr.ts_boot_ns >= (__u64)config.min_latency_us * 1000)
			count_request(pending, now - pending->hdr.ts_boot_ns, error);
	} else if (!config.min_latency_us || now - pending->hdr.ts_boot_ns >= (__u64)config.min_latency_us * 1000) {
		e = gadget_reserve(sizeof(*e));
		if (e) {
			__builtin_memcpy(e, pending, sizeof(*e));
			e->latency_ns = now - pending->hdr.ts_boot_ns;
			e->hdr.ts_boot_ns = now;
			e->error = error;
			bpf_ringbuf_submit(e, 0);
		}
	}
	bpf_map_delete_elem(&blockio_inflight, &key);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
