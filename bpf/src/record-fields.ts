/**
 * Reading the pieces of a gadget record: NUL-terminated strings, IP addresses, errno and signal
 * names (the layout itself comes from the object's BTF: record-layout.ts).
 */
import { constants } from 'node:os';

/** Thrown when a record is shorter than its gadget's layout needs. */
export class RecordLayoutError extends Error {
  constructor(
    readonly gadget: string,
    readonly length: number,
    readonly needed: number,
  ) {
    super(`${gadget} record of ${length} bytes is shorter than the ${needed} bytes its layout needs`);
    this.name = 'RecordLayoutError';
  }
}

/** The string before the first NUL (or the whole slice), as UTF-8 (invalid bytes become U+FFFD). */
export function readCString(buf: Buffer, start = 0, end = buf.length): string {
  const nul = buf.indexOf(0, start);
  return buf.toString('utf8', start, nul === -1 || nul > end ? end : nul);
}

/** The NUL-separated strings of buf[start, end). A trailing piece without NUL counts as a string. */
export function readCStrings(buf: Buffer, start: number, end: number): string[] {
  const out: string[] = [];
  let pos = start;
  while (pos < end) {
    let nul = buf.indexOf(0, pos);
    if (nul === -1 || nul >= end) nul = end;
    out.push(buf.toString('utf8', pos, nul));
    pos = nul + 1;
  }
  return out;
}

export function formatIPv4(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/** RFC 5952 text of a 16-byte IPv6 address (longest run of 2+ zero groups as `::`, v4-mapped as ::ffff:a.b.c.d). */
export function formatIPv6(buf: Buffer, offset: number): string {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(offset + i * 2));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${formatIPv4(buf, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

const AF_INET = 2;
const AF_INET6 = 10;

export function familyName(family: number): string {
  if (family === AF_INET) return 'inet';
  if (family === AF_INET6) return 'inet6';
  if (family === 1) return 'unix';
  if (family === 16) return 'netlink';
  if (family === 17) return 'packet';
  return `af${family}`;
}

/** Text of the address at buf[offset] for the family (first 4 bytes for IPv4); undefined for other families. */
export function formatAddress(family: number, buf: Buffer, offset: number): string | undefined {
  if (family === AF_INET) return formatIPv4(buf, offset);
  if (family === AF_INET6) return formatIPv6(buf, offset);
  return undefined;
}

const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));
errnoNames.set(11, 'EAGAIN');
errnoNames.set(95, 'EOPNOTSUPP');

/** `ENOENT` for 2; `E<n>` for numbers this platform does not name. */
export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

const signalNames = new Map<number, string>(
  Object.entries(constants.signals)
    .filter(([name]) => name !== 'SIGIOT' && name !== 'SIGPOLL' && name !== 'SIGUNUSED')
    .map(([name, n]) => [n, name]),
);

/** `SIGTERM` for 15; real-time signals as glibc names them (`SIGRTMIN` = 34, `SIGRTMIN+3` = 37); `SIG<n>` otherwise. */
export function signalName(sig: number): string {
  const name = signalNames.get(sig);
  if (name) return name;
  if (sig >= 34 && sig <= 64) return sig === 34 ? 'SIGRTMIN' : `SIGRTMIN+${sig - 34}`;
  return `SIG${sig}`;
}
