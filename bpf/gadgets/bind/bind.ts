/**
 * bind gadget: bind(2) with family, address, port, protocol and socket type (when the fd is a
 * socket) and the result. The `port` filter runs in the kernel. Record layout: see bind.bpf.c.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import type { DecodeContext, GadgetDefinition } from '../../src/gadget-definition.ts';
import { decodeHeader, errnoName, familyName, formatAddress, requireLength } from '../../src/record-fields.ts';

export const bindParamsSchema = Type.Object(
  {
    port: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 65535, description: 'Only report binds to this port (IPv4/IPv6). Absent: every bind.' }),
    ),
  },
  { additionalProperties: false },
);
export type BindParams = Static<typeof bindParamsSchema>;

export interface BindEvent extends BaseEvent {
  gadget: 'bind';
  fd: number;
  /** inet, inet6, unix, ... */
  family: string;
  /** IPv4/IPv6 address text; absent for other families. */
  address?: string;
  port?: number;
  /** tcp, udp, ... from the socket; absent when unknown. */
  protocol?: string;
  /** stream, dgram, raw, ... from the socket; absent when unknown. */
  sockType?: string;
  ret: number;
  error?: string;
  [key: string]: unknown;
}

const SIZE = 80;
const PROTOCOLS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp', 136: 'udplite', 262: 'mptcp' };
const SOCK_TYPES: Record<number, string> = { 1: 'stream', 2: 'dgram', 3: 'raw', 4: 'rdm', 5: 'seqpacket', 6: 'dccp', 10: 'packet' };

export function decodeBind(record: Buffer, ctx: DecodeContext): BindEvent {
  requireLength('bind', record, SIZE);
  const family = record.readUInt16LE(56);
  const protocol = record.readUInt16LE(60);
  const sockType = record.readUInt16LE(62);
  const ret = record.readInt32LE(48);
  const address = formatAddress(family, record, 64);
  const event: BindEvent = {
    gadget: 'bind',
    ...decodeHeader(record, ctx),
    fd: record.readInt32LE(52),
    family: familyName(family),
    ret,
  };
  if (address !== undefined) {
    event.address = address;
    event.port = record.readUInt16LE(58);
  }
  if (sockType) {
    event.sockType = SOCK_TYPES[sockType] ?? String(sockType);
    // sk_protocol is 0 for AF_UNIX and for "default" protocols of some families
    if (protocol) event.protocol = PROTOCOLS[protocol] ?? String(protocol);
  }
  if (ret < 0) event.error = errnoName(-ret);
  return event;
}

export const bindGadget: GadgetDefinition<BindEvent> = {
  name: 'bind',
  description: 'Socket binds (bind): family, address, port, protocol, result.',
  paramsSchema: bindParamsSchema,
  fields: [
    { name: 'fd', type: 'number', description: 'Socket fd.' },
    { name: 'family', type: 'string', description: 'Address family: inet, inet6, unix, ...' },
    { name: 'address', type: 'string', description: 'Bound IP address.', optional: true },
    { name: 'port', type: 'number', description: 'Bound port (0: any free port).', optional: true },
    { name: 'protocol', type: 'string', description: 'tcp, udp, ... of the socket.', optional: true },
    { name: 'sockType', type: 'string', description: 'stream, dgram, ... of the socket.', optional: true },
    { name: 'ret', type: 'number', description: '0, or -errno.' },
    { name: 'error', type: 'string', description: 'errno name of a failed bind.', optional: true },
  ],
  topFields: ['comm', 'port', 'error'],
  objectFile: 'bpf/gadgets/bind/bind.bpf.o',
  encodeConfig(params, filterByCgroup) {
    const p = params as BindParams;
    const buf = Buffer.alloc(4);
    buf.writeUInt8(filterByCgroup ? 1 : 0, 0);
    buf.writeUInt16LE(p.port ?? 0, 2);
    return buf;
  },
  decode: decodeBind,
};
