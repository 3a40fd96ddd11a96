/**
 * tcpconnect gadget: outgoing TCP connections and their outcome (established, refused, timed out,
 * ...) from sock:inet_sock_set_state. The process fields (pid, comm, uid, cgroupId) are those of
 * the task that called connect(2), recorded at SYN_SENT; `timestamp` is the time of the outcome.
 * The record is struct tcpconnect_event of tcpconnect.bpf.c; the fields below say how its members are shown.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import { defineGadget, paramOrZero } from '../../src/define-gadget.ts';
import { errorOfErrno, num, socketAddressFields } from '../../src/presenters.ts';
import { errnoName } from '../../src/record-fields.ts';

export const tcpconnectParamsSchema = Type.Object(
  {
    port: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 65535, description: 'Only report connections to this destination port. Absent: every port.' }),
    ),
  },
  { additionalProperties: false },
);
export type TcpconnectParams = Static<typeof tcpconnectParamsSchema>;

export type TcpConnectResult = 'established' | 'refused' | 'timed out' | 'unreachable' | 'reset' | 'closed' | 'error';

export interface TcpconnectEvent extends BaseEvent {
  gadget: 'tcpconnect';
  family: string;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  result: TcpConnectResult;
  /** errno name on the socket when the connection failed (e.g. ECONNREFUSED). */
  error?: string;
  /** Time from SYN sent to the outcome. */
  latencyNs: number;
  [key: string]: unknown;
}

const TCP_ESTABLISHED = 1;

export function connectResult(newState: number, skErr: number): TcpConnectResult {
  if (newState === TCP_ESTABLISHED) return 'established';
  switch (errnoName(skErr)) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ETIMEDOUT':
      return 'timed out';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    case 'ECONNRESET':
      return 'reset';
    default:
      // no error on the socket: the caller closed it before the handshake finished
      return skErr === 0 ? 'closed' : 'error';
  }
}

export const tcpconnectGadget = defineGadget<TcpconnectEvent>({
  name: 'tcpconnect',
  description: 'Outgoing TCP connections and their outcome (established, refused, timed out).',
  paramsSchema: tcpconnectParamsSchema,
  record: {
    struct: 'tcpconnect_event',
    fields: [
      ...socketAddressFields({ source: 'Source', destination: 'Destination' }),
      {
        name: 'result',
        type: 'string',
        description: 'established, refused, timed out, unreachable, reset, closed or error.',
        from: ['newstate', 'sk_err'],
        present: (state, err) => connectResult(num(state), num(err)),
      },
      {
        name: 'error',
        type: 'string',
        description: 'errno name of a failed connection.',
        optional: true,
        from: ['newstate', 'sk_err'],
        present: (state, err) => (num(state) !== TCP_ESTABLISHED ? errorOfErrno(err) : undefined),
      },
      { name: 'latencyNs', type: 'number', description: 'Nanoseconds from SYN sent to the outcome.', from: 'latency_ns' },
    ],
    unused: ['pad', 'pad2'],
  },
  topFields: ['comm', 'daddr', 'dport', 'result'],
  config: { struct: 'tcpconnect_config', members: { port: paramOrZero('port') } },
});

export const decodeTcpconnect = tcpconnectGadget.decode;
