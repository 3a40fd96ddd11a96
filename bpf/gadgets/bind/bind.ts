/**
 * bind gadget: bind(2) with family, address, port, protocol and socket type (when the fd is a
 * socket) and the result. The `port` filter runs in the kernel. The record is struct bind_event of bind.bpf.c; the fields below say how its members are shown.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import { defineGadget, paramOrZero } from '../../src/define-gadget.ts';
import { addressOf, errorOfResult, family, named, num } from '../../src/presenters.ts';

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

const PROTOCOLS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6', 132: 'sctp', 136: 'udplite', 262: 'mptcp' };
const SOCK_TYPES: Record<number, string> = { 1: 'stream', 2: 'dgram', 3: 'raw', 4: 'rdm', 5: 'seqpacket', 6: 'dccp', 10: 'packet' };
const orNumber = (n: number) => String(n);

export const bindGadget = defineGadget<BindEvent>({
  name: 'bind',
  description: 'Socket binds (bind): family, address, port, protocol, result.',
  paramsSchema: bindParamsSchema,
  record: {
    struct: 'bind_event',
    fields: [
      { name: 'fd', type: 'number', description: 'Socket fd.', from: 'fd' },
      { name: 'family', type: 'string', description: 'Address family: inet, inet6, unix, ...', from: 'family', present: family },
      { name: 'address', type: 'string', description: 'Bound IP address.', optional: true, from: ['family', 'addr'], present: addressOf },
      {
        name: 'port',
        type: 'number',
        description: 'Bound port (0: any free port).',
        optional: true,
        from: ['family', 'addr', 'port'],
        present: (fam, addr, port) => (addressOf(fam, addr) !== undefined ? num(port) : undefined),
      },
      {
        name: 'protocol',
        type: 'string',
        description: 'tcp, udp, ... of the socket.',
        optional: true,
        // sk_protocol is 0 for AF_UNIX and for "default" protocols of some families
        from: ['sock_type', 'protocol'],
        present: (type, proto) => (num(type) && num(proto) ? named(PROTOCOLS, orNumber)(proto) : undefined),
      },
      {
        name: 'sockType',
        type: 'string',
        description: 'stream, dgram, ... of the socket.',
        optional: true,
        from: 'sock_type',
        present: (type) => (num(type) ? named(SOCK_TYPES, orNumber)(type) : undefined),
      },
      { name: 'ret', type: 'number', description: '0, or -errno.', from: 'ret' },
      { name: 'error', type: 'string', description: 'errno name of a failed bind.', optional: true, from: 'ret', present: errorOfResult },
    ],
  },
  topFields: ['comm', 'port', 'error'],
  config: { struct: 'bind_config', members: { port: paramOrZero('port') } },
});

export const decodeBind = bindGadget.decode;
