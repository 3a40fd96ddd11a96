/**
 * tcpdrop gadget: packets the kernel dropped (skb:kfree_skb) with the drop reason, addresses, ports
 * and protocol, attributed to the socket the packet belongs to: the cgroup filter checks the
 * socket's cgroup, and pid/comm are the current task's only when it runs in that cgroup (a send
 * from the process itself), 0/'' otherwise (softirq). Packets of no socket have cgroupId 0 and are
 * seen only with the filter off. The record is struct tcpdrop_event of tcpdrop.bpf.c; the fields
 * below say how its members are shown.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import { defineGadget } from '../../src/define-gadget.ts';
import { addressOf, family, named, nonZero, num } from '../../src/presenters.ts';
import { TCP_STATES } from '../tcpretrans/tcpretrans.ts';
import { dropReasonName } from '../../src/kernel-enums.ts';

const PROTOCOLS = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 } as const;
const PROTOCOL_NAMES: Record<number, string> = Object.fromEntries(Object.entries(PROTOCOLS).map(([name, n]) => [n, name]));

export const tcpdropParamsSchema = Type.Object(
  {
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
  /** Kernel address of the code that dropped it (hex). */
  location: string;
  [key: string]: unknown;
}

const TCP_FLAGS = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR'] as const;
const ip = (present: (...v: Parameters<typeof num>) => unknown) => (fam: Parameters<typeof num>[0], v: Parameters<typeof num>[0]) =>
  num(fam) !== 0 ? present(v) : undefined;
const portsOf = (fam: Parameters<typeof num>[0], proto: Parameters<typeof num>[0], port: Parameters<typeof num>[0]) =>
  num(fam) !== 0 && (num(proto) === 6 || num(proto) === 17) ? num(port) : undefined;

export const tcpdropGadget = defineGadget<TcpdropEvent>({
  name: 'tcpdrop',
  description: 'Packets the kernel dropped, with the drop reason, attributed to the owning socket: addresses, ports, protocol, TCP state.',
  paramsSchema: tcpdropParamsSchema,
  record: {
    struct: 'tcpdrop_event',
    fields: [
      { name: 'reason', type: 'string', description: "The kernel's drop reason (enum skb_drop_reason without SKB_DROP_REASON_), e.g. NETFILTER_DROP.", from: 'reason', present: (r) => dropReasonName(num(r)) },
      { name: 'family', type: 'string', description: 'inet or inet6; absent for a packet that is not IP.', optional: true, from: 'family', present: (f) => (num(f) ? family(f) : undefined) },
      { name: 'saddr', type: 'string', description: 'Source address of the packet.', optional: true, from: ['family', 'saddr'], present: addressOf },
      { name: 'daddr', type: 'string', description: 'Destination address of the packet.', optional: true, from: ['family', 'daddr'], present: addressOf },
      { name: 'sport', type: 'number', description: 'Source port (TCP, UDP).', optional: true, from: ['family', 'protocol', 'sport'], present: portsOf },
      { name: 'dport', type: 'number', description: 'Destination port (TCP, UDP).', optional: true, from: ['family', 'protocol', 'dport'], present: portsOf },
      { name: 'protocol', type: 'string', description: 'tcp, udp, icmp, ... of an IP packet.', optional: true, from: ['family', 'protocol'], present: ip(named(PROTOCOL_NAMES, String)) },
      {
        name: 'tcpFlags',
        type: 'string',
        description: 'Flags of a dropped TCP segment, e.g. SYN|ACK.',
        optional: true,
        from: ['protocol', 'tcp_flags'],
        present: (proto, flags) => (num(proto) === 6 ? TCP_FLAGS.filter((_, i) => num(flags) & (1 << i)).join('|') : undefined),
      },
      { name: 'state', type: 'string', description: 'TCP state of the owning socket.', optional: true, from: ['has_sock', 'protocol', 'state'], present: (has, proto, st) => (num(has) && num(proto) === 6 ? named(TCP_STATES, String)(st) : undefined) },
      { name: 'hasSocket', type: 'boolean', description: 'The packet belonged to a socket (and to its cgroup).', from: 'has_sock', present: nonZero },
      { name: 'location', type: 'string', description: 'Kernel address of the code that dropped the packet.', from: 'location', present: (l) => `0x${num(l).toString(16)}` },
    ],
    unused: ['pad'],
  },
  topFields: ['reason', 'comm', 'daddr', 'dport'],
  config: {
    struct: 'tcpdrop_config',
    members: { protocol: (params) => (typeof params.protocol === 'string' ? (PROTOCOLS[params.protocol as keyof typeof PROTOCOLS] ?? 0) : 0) },
  },
});

export const decodeTcpdrop = tcpdropGadget.decode;
