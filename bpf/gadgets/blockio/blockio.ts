/**
 * blockio gadget: block I/O requests with device, operation, sector, bytes and the latency from
 * issue to completion. The process fields are those of the task that submitted the request's first
 * bio (the one doing synchronous or O_DIRECT I/O, also when a kernel worker issues it; page-cache
 * writeback is submitted by kernel threads and not attributed to a target); `timestamp` is the
 * completion. Operation and flag names come from the
 * running kernel's BTF (enum req_op, enum req_flag_bits), whose numbers differ between versions.
 *
 * `mode: 'summary'` (default) counts in the kernel: one event per (cgroup, pid, comm, disk, op) with
 * `requests`, `bytes`, `errors`, latency total/max and `latencyUsSlots` (log2 histogram), read at
 * the end (struct blockio_stats_entry); `mode: 'stream'` sends one event per request (struct
 * blockio_event). Both give the summary's `blockio` tables (blockio-summary.ts). The fields below
 * say how the structs' members are shown.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import { defineGadget, paramOrZero } from '../../src/define-gadget.ts';
import { kernelEnum } from '../../src/kernel-enums.ts';
import { named, num, text, u64Counts } from '../../src/presenters.ts';
import { BlockioTally } from './blockio-summary.ts';

export const blockioParamsSchema = Type.Object(
  {
    mode: Type.Union([Type.Literal('summary'), Type.Literal('stream')], {
      default: 'summary',
      description:
        "summary: count in the kernel, one event per process, disk and operation (requests, bytes, latency histogram); stream: one event per request through the ring buffer. Both fill the summary's blockio tables.",
    }),
    minLatencyUs: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 60_000_000, description: 'Only count (summary) or report (stream) requests that took at least this many microseconds. Absent: every request.' }),
    ),
  },
  { additionalProperties: false },
);
export type BlockioParams = Static<typeof blockioParamsSchema>;

export interface BlockioEvent extends BaseEvent {
  gadget: 'blockio';
  /** Disk name, e.g. sda, nvme0n1, loop3. */
  disk: string;
  /** major:minor of the disk. */
  device: string;
  /** read, write, flush, discard, ... */
  op: string;
  /** REQ_* flags by name, e.g. SYNC|IDLE. */
  flags: string;
  sector: number;
  bytes: number;
  latencyNs: number;
  /** blk_status_t name of a failed request. */
  error?: string;
  /** Summary mode: requests of this process on this disk and op; `bytes` is their total. */
  requests?: number;
  errors?: number;
  latencyNsTotal?: number;
  latencyNsMax?: number;
  /** Summary mode: requests per log2 latency slot in µs (slot 0: 0–1 µs, slot n: 2^n…2^(n+1)−1 µs). */
  latencyUsSlots?: number[];
  [key: string]: unknown;
}

const REQ_OP_BITS = 8;
/** blk_status_t values (include/linux/blk_types.h), which are #defines and so not in the BTF. */
const BLK_STATUS: Record<number, string> = {
  1: 'NOTSUPP',
  2: 'TIMEOUT',
  3: 'NOSPC',
  4: 'TRANSPORT',
  5: 'TARGET',
  6: 'RESV_CONFLICT',
  7: 'MEDIUM',
  8: 'PROTECTION',
  9: 'RESOURCE',
  10: 'IOERR',
};

export function requestOp(cmdFlags: number): string {
  const op = cmdFlags & ((1 << REQ_OP_BITS) - 1);
  const name = kernelEnum('req_op').get(op);
  return name ? name.replace(/^REQ_OP_/, '').toLowerCase() : `op ${op}`;
}

export function requestFlags(cmdFlags: number): string {
  const bits = kernelEnum('req_flag_bits');
  const names: string[] = [];
  for (let bit = REQ_OP_BITS; bit < 32; bit++) {
    if ((cmdFlags >>> bit) & 1) names.push((bits.get(bit) ?? `bit${bit}`).replace(/^__REQ_/, ''));
  }
  return names.join('|');
}

export const blockioGadget = defineGadget<BlockioEvent>({
  name: 'blockio',
  description: 'Block I/O requests: disk, operation, sector, bytes, latency from issue to completion.',
  paramsSchema: blockioParamsSchema,
  record: {
    struct: 'blockio_event',
    fields: [
      { name: 'disk', type: 'string', description: 'Disk name, e.g. sda, nvme0n1, loop3.', from: 'disk', present: text },
      { name: 'device', type: 'string', description: 'major:minor of the disk.', from: ['major', 'minor'], present: (major, minor) => `${num(major)}:${num(minor)}` },
      { name: 'op', type: 'string', description: 'read, write, flush, discard, ...', from: 'cmd_flags', present: (f) => requestOp(num(f)) },
      { name: 'flags', type: 'string', description: 'REQ_* flags by name, e.g. SYNC|IDLE.', from: 'cmd_flags', present: (f) => requestFlags(num(f)) },
      { name: 'sector', type: 'number', description: 'First sector (512 bytes).', from: 'sector' },
      { name: 'bytes', type: 'number', description: 'Bytes of the request.', from: 'bytes' },
      { name: 'latencyNs', type: 'number', description: 'Nanoseconds from issue to completion.', from: 'latency_ns' },
      { name: 'error', type: 'string', description: 'blk_status_t of a failed request, e.g. IOERR.', optional: true, from: 'error', present: (e) => (num(e) ? named(BLK_STATUS, String)(e) : undefined) },
    ],
    unused: ['pad'],
  },
  topFields: ['comm', 'disk', 'op'],
  countField: 'requests',
  config: {
    struct: 'blockio_config',
    members: { stream: (params) => (params.mode === 'stream' ? 1 : 0), min_latency_us: paramOrZero('minLatencyUs') },
  },
  aggregate: {
    map: 'blockio_stats',
    fullCounter: 'blockio_stats_full',
    enabled: (params) => params.mode !== 'stream',
    entry: {
      struct: 'blockio_stats_entry',
      common: { cgroupId: 'key.cgroup_id', pid: 'key.pid', comm: 'key.comm' },
      fields: [
        { name: 'disk', type: 'string', description: 'Disk name, e.g. sda, nvme0n1, loop3.', from: 'key.disk', present: text },
        { name: 'device', type: 'string', description: 'major:minor of the disk.', from: ['key.major', 'key.minor'], present: (major, minor) => `${num(major)}:${num(minor)}` },
        { name: 'op', type: 'string', description: 'read, write, flush, discard, ...', from: 'key.op', present: (op) => requestOp(num(op)) },
        { name: 'requests', type: 'number', description: 'Summary mode: requests of this process on this disk and operation.', optional: true, from: 'value.requests' },
        { name: 'bytes', type: 'number', description: 'Bytes of the request (summary mode: of all of them).', from: 'value.bytes' },
        { name: 'errors', type: 'number', description: 'Summary mode: requests that failed.', optional: true, from: 'value.errors' },
        { name: 'latencyNsTotal', type: 'number', description: 'Summary mode: nanoseconds from issue to completion, summed.', optional: true, from: 'value.latency_ns_total' },
        { name: 'latencyNsMax', type: 'number', description: 'Summary mode: the longest latency (ns).', optional: true, from: 'value.latency_ns_max' },
        {
          name: 'latencyUsSlots',
          type: 'number[]',
          description: 'Summary mode: requests per log2 latency slot in µs (slot 0: 0–1 µs, slot n: 2^n…2^(n+1)−1 µs), trailing empty slots left out.',
          optional: true,
          from: 'value.latency_us_slots',
          present: u64Counts,
        },
      ],
    },
  },
  summaryExtension: (params) => {
    const tally = new BlockioTally(params.mode === 'stream' ? 'stream' : 'summary');
    return { add: (e) => tally.add(e), result: () => ({ blockio: tally.result() }) };
  },
});

export const decodeBlockio = blockioGadget.decode;
