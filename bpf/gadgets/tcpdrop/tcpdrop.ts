/**
 * tcpdrop gadget: packets the kernel dropped (skb:kfree_skb) with the drop reason, addresses, ports
 * and protocol, attributed to the socket the packet belongs to: the cgroup filter checks the
 * socket's cgroup, and pid/comm are the current task's only when it runs in that cgroup (a send
 * from the process itself), 0/'' otherwise (softirq). Packets of no socket have cgroupId 0 and are
 * seen only with the filter off. With the runner's ancestor levels (pod cgroups) a socket of a
 * container below a filtered pod cgroup matches too.
 *
 * `mode: 'summary'` (default) counts in the kernel: one event per (socket cgroup, task, reason,
 * protocol, addresses, ports, state) with `packets`, the OR of the TCP flags seen and the latest
 * drop's time and location (struct tcpdrop_count_entry); `mode: 'stream'` sends one event per
 * dropped packet (struct tcpdrop_event). Both give the summary's `tcpdrop` tables
 * (tcpdrop-summary.ts). The fields below say how the structs' members are shown.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import { defineGadget } from '../../src/define-gadget.ts';
import { addressOf, family, named, nonZero, num } from '../../src/presenters.ts';
import { TCP_STATES } from '../tcpretrans/tcpretrans.ts';
import { dropReasonName } from '../../src/kernel-enums.ts';
import type { RecordField } from '../../src/record-layout.ts';
import { TcpdropTally } from './tcpdrop-summary.ts';

const PROTOCOLS = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 } as const;
const PROTOCOL_NAMES: Record<number, string> = Object.fromEntries(Object.entries(PROTOCOLS).map(([name, n]) => [n, name]));

export const tcpdropParamsSchema = Type.Object(
  {
    mode: Type.Union([Type.Literal('summary'), Type.Literal('stream')], {
      default: 'summary',
      description: "summary: count drops in the kernel, one event per reason, flow and owner (with `packets`); stream: one event per dropped packet. Both fill the summary's tcpdrop tables.",
    }),
    protocol: Type.Optional(Type.Union(Object.keys(PROTOCOLS).map((p) => Type.Literal(p)), { description: 'Only report drops of this protocol (tcp, udp, icmp, icmpv6). Absent: every protocol.' })),
  },
  { additionalProperties: false },
);
export type TcpdropParams = Static<typeof tcpdropParamsSchema>;

export interface TcpdropEvent extends BaseEvent {
  gadget: 'tcpdrop';
  /** The kernel's drop reason without its SKB_DROP_REASON_ prefix, e.g. NETFILTER_DROP, NO_SOCKET. */
  reason: string;
  family?: string;
  saddr?: string;
  daddr?: string;
  sport?: number;
  dport?: number;
  protocol?: string;
  /** TCP flags of the dropped segment, e.g. SYN|ACK. */
  tcpFlags?: string;
  /** TCP state of the socket. */
  state?: string;
  /** The packet belonged to a socket (and so to that socket's cgroup). */
  hasSocket: boolean;
  /** Kernel address of the code that dropped it (hex); summary mode: of the latest drop. */
  location: string;
  /** Summary mode: packets dropped for this reason, flow and owner. */
  packets?: number;
  [key: string]: unknown;
}

const TCP_FLAGS = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'] as const;
const ip = (present: (...v: Parameters<typeof num>) => unknown) => (fam: Parameters<typeof num>[0], v: Parameters<typeof num>[0]) =>
  num(fam) !== 0 ? present(v) : undefined;
const portsOf = (fam: Parameters<typeof num>[0], proto: Parameters<typeof num>[0], port: Parameters<typeof num>[0]) =>
  num(fam) !== 0 && (num(proto) === 6 || num(proto) === 17) ? num(port) : undefined;

/** The fields of a drop, from the members of struct tcpdrop_event (p '') or of the counts key (p 'key.'). */
function flowFields(p: '' | 'key.', location = 'location'): RecordField[] {
  return [
      { name: 'reason', type: 'string', description: "The kernel's drop reason (enum skb_drop_reason without SKB_DROP_REASON_), e.g. NETFILTER_DROP.", from: p + 'reason', present: (r) => dropReasonName(num(r)) },
      { name: 'family', type: 'string', description: 'inet or inet6; absent for a packet that is not IP.', optional: true, from: p + 'family', present: (f) => (num(f) ? family(f) : undefined) },
      { name: 'saddr', type: 'string', description: 'Source address of the packet.', optional: true, from: [p + 'family', p + 'saddr'], present: addressOf },
      { name: 'daddr', type: 'string', description: 'Destination address of the packet.', optional: true, from: [p + 'family', p + 'daddr'], present: addressOf },
      { name: 'sport', type: 'number', description: 'Source port (TCP, UDP).', optional: true, from: [p + 'family', p + 'protocol', p + 'sport'], present: portsOf },
      { name: 'dport', type: 'number', description: 'Destination port (TCP, UDP).', optional: true, from: [p + 'family', p + 'protocol', p + 'dport'], present: portsOf },
      { name: 'protocol', type: 'string', description: 'tcp, udp, icmp, ... of an IP packet.', optional: true, from: [p + 'family', p + 'protocol'], present: ip(named(PROTOCOL_NAMES, String)) },
      {
        name: 'tcpFlags',
        type: 'string',
        description: 'Flags of a dropped TCP segment, e.g. SYN|ACK.',
        optional: true,
        from: [p + 'protocol', p + 'tcp_flags'],
        present: (proto, flags) => (num(proto) === 6 ? TCP_FLAGS.filter((_, i) => num(flags) & (1 << i)).join('|') : undefined),
      },
      { name: 'state', type: 'string', description: 'TCP state of the owning socket.', optional: true, from: [p + 'has_sock', p + 'protocol', p + 'state'], present: (has, proto, st) => (num(has) && num(proto) === 6 ? named(TCP_STATES, String)(st) : undefined) },
      { name: 'hasSocket', type: 'boolean', description: 'The packet belonged to a socket (and to its cgroup).', from: p + 'has_sock', present: nonZero },
      { name: 'location', type: 'string', description: 'Kernel address of the code that dropped the packet.', from: location, present: (l) => `0x${num(l).toString(16)}` },
  ];
}

export const tcpdropGadget = defineGadget<TcpdropEvent>({
  name: 'tcpdrop',
  description: 'Packets the kernel dropped, with the drop reason, attributed to the owning socket: addresses, ports, protocol, TCP state.',
  paramsSchema: tcpdropParamsSchema,
  record: {
    struct: 'tcpdrop_event',
    fields: flowFields(''),
    unused: ['pad'],
  },
  topFields: ['reason', 'comm', 'daddr', 'dport'],
  countField: 'packets',
  config: {
    struct: 'tcpdrop_config',
    members: {
      protocol: (params) => (typeof params.protocol === 'string' ? (PROTOCOLS[params.protocol as keyof typeof PROTOCOLS] ?? 0) : 0),
      stream: (params) => (params.mode === 'stream' ? 1 : 0),
    },
  },
  aggregate: {
    map: 'tcpdrop_counts',
    fullCounter: 'tcpdrop_counts_full',
    enabled: (params) => params.mode !== 'stream',
    entry: {
      struct: 'tcpdrop_count_entry',
      common: { cgroupId: 'key.cgroup_id', pid: 'key.pid', comm: 'key.comm', timestampBootNs: 'value.last_ns' },
      fields: [
        ...flowFields('key.', 'value.location').filter((f) => f.name !== 'tcpFlags'),
        {
          name: 'tcpFlags',
          type: 'string',
          description: 'Flags of a dropped TCP segment, e.g. SYN|ACK (summary mode: of all of them).',
          optional: true,
          from: ['key.protocol', 'value.tcp_flags'],
          present: (proto, flags) => (num(proto) === 6 ? TCP_FLAGS.filter((_, i) => num(flags) & (1 << i)).join('|') : undefined),
        },
        { name: 'packets', type: 'number', description: 'Summary mode: packets dropped for this reason, flow and owner.', optional: true, from: 'value.packets' },
      ],
      unused: ['key.pad', 'value.pad'],
    },
  },
  summaryExtension: (params) => {
    const tally = new TcpdropTally(params.mode === 'stream' ? 'stream' : 'summary');
    return { add: (e) => tally.add(e), result: () => ({ tcpdrop: tally.result() }) };
  },
});

export const decodeTcpdrop = tcpdropGadget.decode;
