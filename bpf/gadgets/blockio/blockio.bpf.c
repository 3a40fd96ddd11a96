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
 * Record: struct blockio_event below (GADGET_RECORD); blockio.ts builds its decoder
 * from the layout in this object's BTF, so the struct is the only declaration.
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
	__u8 pad[3];
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
	if (!config.min_latency_us || now - pending->hdr.ts_boot_ns >= (__u64)config.min_latency_us * 1000) {
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
