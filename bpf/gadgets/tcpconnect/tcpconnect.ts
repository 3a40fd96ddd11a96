/**
 * tcpconnect gadget: outgoing TCP connections and their outcome (established, refused, timed out,
 * ...) from sock:inet_sock_set_state. The process fields (pid, comm, uid, cgroupId) are those of
 * the task that called connect(2), recorded at SYN_SENT; `timestamp` is the time of the outcome.
 * Record layout: see tcpconnect.bpf.c.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import type { DecodeContext, GadgetDefinition } from '../../src/gadget-definition.ts';
import { decodeHeader, errnoName, familyName, formatAddress, requireLength } from '../../src/record-fields.ts';

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

const SIZE = 104;
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

export function decodeTcpconnect(record: Buffer, ctx: DecodeContext): TcpconnectEvent {
  requireLength('tcpconnect', record, SIZE);
  const family = record.readUInt16LE(56);
  const newState = record.readUInt8(62);
  const skErr = record.readInt32LE(64);
  const event: TcpconnectEvent = {
    gadget: 'tcpconnect',
    ...decodeHeader(record, ctx),
    family: familyName(family),
    saddr: formatAddress(family, record, 72) ?? '',
    daddr: formatAddress(family, record, 88) ?? '',
    sport: record.readUInt16LE(58),
    dport: record.readUInt16LE(60),
    result: connectResult(newState, skErr),
    latencyNs: Number(record.readBigUInt64LE(48)),
  };
  if (newState !== TCP_ESTABLISHED && skErr !== 0) event.error = errnoName(skErr);
  return event;
}

export const tcpconnectGadget: GadgetDefinition<TcpconnectEvent> = {
  name: 'tcpconnect',
  description: 'Outgoing TCP connections and their outcome (established, refused, timed out).',
  paramsSchema: tcpconnectParamsSchema,
  fields: [
    { name: 'family', type: 'string', description: 'inet or inet6.' },
    { name: 'saddr', type: 'string', description: 'Source address.' },
    { name: 'daddr', type: 'string', description: 'Destination address.' },
    { name: 'sport', type: 'number', description: 'Source port.' },
    { name: 'dport', type: 'number', description: 'Destination port.' },
    { name: 'result', type: 'string', description: 'established, refused, timed out, unreachable, reset, closed or error.' },
    { name: 'error', type: 'string', description: 'errno name of a failed connection.', optional: true },
    { name: 'latencyNs', type: 'number', description: 'Nanoseconds from SYN sent to the outcome.' },
  ],
  topFields: ['comm', 'daddr', 'dport', 'result'],
  objectFile: 'bpf/gadgets/tcpconnect/tcpconnect.bpf.o',
  encodeConfig(params, filterByCgroup) {
    const p = params as TcpconnectParams;
    const buf = Buffer.alloc(4);
    buf.writeUInt8(filterByCgroup ? 1 : 0, 0);
    buf.writeUInt16LE(p.port ?? 0, 2);
    return buf;
  },
  decode: decodeTcpconnect,
};
