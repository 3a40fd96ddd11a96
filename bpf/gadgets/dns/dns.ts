/**
 * dns gadget: DNS queries of the targets and the answers to them, from the packets (UDP port 53):
 * name, type, response code, answer addresses, and for an answer the latency since its query. A
 * query belongs to its socket's cgroup; an answer carries its query's process fields. The kernel
 * copies the DNS message; dns-message.ts parses it.
 * The record is struct dns_event of dns.bpf.c; the fields below say how its members are shown.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import { defineGadget } from '../../src/define-gadget.ts';
import { bytes, nonZero, num, socketAddressFields } from '../../src/presenters.ts';
import type { RawValue } from '../../src/record-layout.ts';
import { parseDnsMessage, type DnsMessage } from './dns-message.ts';

export const dnsParamsSchema = Type.Object({}, { additionalProperties: false });
export type DnsParams = Static<typeof dnsParamsSchema>;

export interface DnsEvent extends BaseEvent {
  gadget: 'dns';
  family: string;
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
  /** query or answer. */
  kind: 'query' | 'answer';
  id: number;
  name: string;
  /** Question type: A, AAAA, ... */
  qtype: string;
  /** Answers: NOERROR, NXDOMAIN, SERVFAIL, ... */
  rcode?: string;
  /** Answers: the A/AAAA addresses and CNAME targets. */
  addresses?: string[];
  /** Answers: nanoseconds since the query. */
  latencyNs?: number;
  [key: string]: unknown;
}

/** The DNS message: the bytes the kernel copied, at most what the packet held; parsed once per record. */
let last: { buffer: ArrayBufferLike; offset: number; parsed: DnsMessage } | undefined;
const message = (msg: RawValue, len: RawValue): DnsMessage => {
  const b = bytes(msg);
  if (last?.buffer === b.buffer && last.offset === b.byteOffset) return last.parsed;
  const parsed = parseDnsMessage(b.subarray(0, Math.min(num(len), b.length)));
  last = { buffer: b.buffer, offset: b.byteOffset, parsed };
  return parsed;
};

export const dnsGadget = defineGadget<DnsEvent>({
  name: 'dns',
  description: 'DNS queries and answers: name, type, response code, answer addresses, latency.',
  paramsSchema: dnsParamsSchema,
  record: {
    struct: 'dns_event',
    fields: [
      ...socketAddressFields({ source: 'Source', destination: 'Destination' }),
      { name: 'kind', type: 'string', description: 'query or answer.', from: 'is_answer', present: (a) => (nonZero(a) ? 'answer' : 'query') },
      { name: 'id', type: 'number', description: 'DNS message id.', from: ['msg', 'msg_len'], present: (m, l) => message(m, l).id },
      { name: 'name', type: 'string', description: 'The name asked for.', from: ['msg', 'msg_len'], present: (m, l) => message(m, l).name },
      { name: 'qtype', type: 'string', description: 'Question type: A, AAAA, MX, ...', from: ['msg', 'msg_len'], present: (m, l) => message(m, l).qtype },
      {
        name: 'rcode',
        type: 'string',
        description: 'Response code of an answer: NOERROR, NXDOMAIN, SERVFAIL, ...',
        optional: true,
        from: ['is_answer', 'msg', 'msg_len'],
        present: (a, m, l) => (nonZero(a) ? message(m, l).rcode : undefined),
      },
      {
        name: 'addresses',
        type: 'string[]',
        description: 'A/AAAA addresses and CNAME targets of an answer.',
        optional: true,
        from: ['is_answer', 'msg', 'msg_len'],
        present: (a, m, l) => (nonZero(a) ? message(m, l).answers : undefined),
      },
      { name: 'latencyNs', type: 'number', description: 'Nanoseconds from the query to this answer.', optional: true, from: ['is_answer', 'latency_ns'], present: (a, l) => (nonZero(a) ? num(l) : undefined) },
    ],
    unused: ['pad'],
  },
  topFields: ['name', 'qtype', 'rcode', 'comm'],
  config: { struct: 'dns_config', members: {} },
});

export const decodeDns = dnsGadget.decode;
