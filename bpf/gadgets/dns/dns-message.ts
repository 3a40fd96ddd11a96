/**
 * The parts of a DNS message (RFC 1035 wire format) the dns gadget shows: id, whether it is a
 * response, the first question's name and type, the response code and the A/AAAA/CNAME answers.
 * A message cut short (the kernel copies at most 512 bytes) yields what could be read.
 */
import { formatIPv4, formatIPv6 } from '../../src/record-fields.ts';

export interface DnsMessage {
  id: number;
  response: boolean;
  rcode: string;
  name: string;
  qtype: string;
  answers: string[];
}

const TYPES: Record<number, string> = { 1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 65: 'HTTPS', 255: 'ANY' };
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];

export const dnsTypeName = (t: number) => TYPES[t] ?? `TYPE${t}`;

/** The name at `offset` (following compression pointers) and the offset after it in the message. */
function readName(msg: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next = -1;
  for (let hops = 0; hops < 64 && pos < msg.length; hops++) {
    const len = msg[pos] ?? 0;
    if (len === 0) {
      pos += 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (next === -1) next = pos + 2;
      pos = ((len & 0x3f) << 8) | (msg[pos + 1] ?? 0);
      continue;
    }
    labels.push(msg.toString('latin1', pos + 1, Math.min(pos + 1 + len, msg.length)));
    pos += 1 + len;
  }
  return { name: labels.join('.'), next: next === -1 ? pos : next };
}

export function parseDnsMessage(msg: Buffer): DnsMessage {
  const flags = msg.readUInt16BE(2);
  const qdcount = msg.readUInt16BE(4);
  const ancount = msg.readUInt16BE(6);
  const out: DnsMessage = { id: msg.readUInt16BE(0), response: (flags & 0x8000) !== 0, rcode: RCODES[flags & 0xf] ?? `RCODE${flags & 0xf}`, name: '', qtype: '', answers: [] };
  let pos = 12;
  for (let i = 0; i < qdcount && pos + 4 <= msg.length; i++) {
    const q = readName(msg, pos);
    if (i === 0 && q.next + 4 <= msg.length) {
      out.name = q.name;
      out.qtype = dnsTypeName(msg.readUInt16BE(q.next));
    }
    pos = q.next + 4;
  }
  for (let i = 0; i < ancount && pos + 10 <= msg.length; i++) {
    const rr = readName(msg, pos);
    if (rr.next + 10 > msg.length) break;
    const type = msg.readUInt16BE(rr.next);
    const rdlen = msg.readUInt16BE(rr.next + 8);
    const rdata = rr.next + 10;
    if (rdata + rdlen > msg.length) break;
    if (type === 1 && rdlen === 4) out.answers.push(formatIPv4(msg, rdata));
    else if (type === 28 && rdlen === 16) out.answers.push(formatIPv6(msg, rdata));
    else if (type === 5) out.answers.push(readName(msg, rdata).name);
    pos = rdata + rdlen;
  }
  return out;
}
