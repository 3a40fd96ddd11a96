/**
 * tcpretrans gadget: TCP retransmissions (tcp_retransmit_skb, tcp_retransmit_synack): addresses,
 * ports, the socket's state and what was retransmitted. An event belongs to the socket's cgroup
 * (the cgroup filter checks it); retransmits mostly run from a timer, so pid, comm and uid are
 * those of the current task only when it runs in that cgroup, and 0/'' otherwise.
 * The record is struct tcpretrans_event of tcpretrans.bpf.c; the fields below say how its members are shown.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import { defineGadget, paramOrZero } from '../../src/define-gadget.ts';
import { named, socketAddressFields } from '../../src/presenters.ts';

export const tcpretransParamsSchema = Type.Object(
  {
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, description: 'Only report sockets with this local or remote port. Absent: every port.' })),
  },
  { additionalProperties: false },
);
export type TcpretransParams = Static<typeof tcpretransParamsSchema>;

export interface TcpretransEvent extends BaseEvent {
  gadget: 'tcpretrans';
  family: string;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  /** TCP state of the socket, e.g. ESTABLISHED, SYN_SENT. */
  state: string;
  /** data, syn or synack. */
  type: string;
  [key: string]: unknown;
}

/** include/net/tcp_states.h, in order from 1. */
export const TCP_STATES = [
  '',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  'CLOSE',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
  'BOUND_INACTIVE',
] as const;
/** TR_TYPE_* of tcpretrans.bpf.c. */
const TYPES = ['data', 'syn', 'synack'] as const;
const numbered = (n: number) => String(n);

export const tcpretransGadget = defineGadget<TcpretransEvent>({
  name: 'tcpretrans',
  description: 'TCP retransmissions: addresses, ports, socket state, and whether data, a SYN or a SYN-ACK was resent.',
  paramsSchema: tcpretransParamsSchema,
  record: {
    struct: 'tcpretrans_event',
    fields: [
      ...socketAddressFields({ source: 'Local', destination: 'Remote' }),
      { name: 'state', type: 'string', description: 'TCP state of the socket (ESTABLISHED, SYN_SENT, ...).', from: 'state', present: named(TCP_STATES, numbered) },
      { name: 'type', type: 'string', description: 'What was resent: data, syn or synack.', from: 'type', present: named(TYPES, numbered) },
    ],
  },
  topFields: ['daddr', 'dport', 'state', 'type'],
  config: { struct: 'tcpretrans_config', members: { port: paramOrZero('port') } },
});

export const decodeTcpretrans = tcpretransGadget.decode;
