/**
 * How record members are shown, for the `present` of a RecordField (record-layout.ts): each takes
 * the raw value(s) of the members the field names in `from` and returns the field's value, or
 * undefined for an absent field. A raw value of the wrong kind (a number where bytes were meant)
 * is a spec that does not match its struct: it throws a TypeError.
 */
import { errnoName, familyName, formatAddress, readCString, signalName } from './record-fields.ts';
import type { RawValue, RecordField } from './record-layout.ts';

export function num(v: RawValue): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new TypeError('expected an integer member, got bytes');
}

export function bytes(v: RawValue): Buffer {
  if (Buffer.isBuffer(v)) return v;
  throw new TypeError('expected an array member, got an integer');
}

/** A char array's string (up to the first NUL). */
export const text = (v: RawValue): string => readCString(bytes(v));

/** The first `length` bytes of a char array, as a string up to the first NUL. */
export const textOfLength = (v: RawValue, length: RawValue): string => {
  const b = bytes(v);
  return readCString(b, 0, Math.min(num(length), b.length));
};

export const nonZero = (v: RawValue): boolean => num(v) !== 0;

/** A set bit of a flags member. */
export const hasFlag =
  (bits: number) =>
  (v: RawValue): boolean =>
    (num(v) & bits) !== 0;

/** errno name of a `-errno` result; undefined for a success (≥ 0). */
export const errorOfResult = (v: RawValue): string | undefined => (num(v) < 0 ? errnoName(-num(v)) : undefined);

/** errno name of a positive errno member; undefined for 0. */
export const errorOfErrno = (v: RawValue): string | undefined => (num(v) !== 0 ? errnoName(num(v)) : undefined);

export const family = (v: RawValue): string => familyName(num(v));

/** The address text of (family, bytes); undefined for a family without IP addresses. */
export const addressOf = (fam: RawValue, addr: RawValue): string | undefined => formatAddress(num(fam), bytes(addr), 0);

/** As addressOf, but '' where the family has no IP address. */
export const addressOrEmpty = (fam: RawValue, addr: RawValue): string => addressOf(fam, addr) ?? '';

export const signal = (v: RawValue): string => signalName(num(v));

/**
 * A name from a table (an array indexed by value, or a record by value); values not in it become
 * `fallback(value)` (default: undefined, the field is absent).
 */
export function named<T>(
  names: readonly T[] | Readonly<Record<number, T>>,
  fallback?: (value: number) => T,
): (v: RawValue) => T | undefined {
  return (v) => {
    const n = num(v);
    const name = (names as Readonly<Record<number, T>>)[n];
    return name !== undefined ? name : fallback?.(n);
  };
}

/** The names of the bits set in a flags value, `|`-joined; bits without a name in hex; '' for 0. */
export function bitNames(value: number, names: ReadonlyArray<readonly [number, string]>): string {
  const out: string[] = [];
  let rest = value;
  for (const [bit, name] of names) {
    if ((rest & bit) === bit && bit !== 0) {
      out.push(name);
      rest &= ~bit;
    }
  }
  if (rest) out.push(`0x${(rest >>> 0).toString(16)}`);
  return out.join('|');
}

/**
 * The five fields of a socket's addresses from members `family`, `saddr`, `daddr` (16 bytes each),
 * `sport` and `dport` (host order), with what "source" and "destination" mean for the gadget.
 */
export function socketAddressFields(meaning: { source: string; destination: string }): RecordField[] {
  const { source, destination } = meaning;
  return [
    { name: 'family', type: 'string', description: 'inet or inet6.', from: 'family', present: family },
    { name: 'saddr', type: 'string', description: `${source} address.`, from: ['family', 'saddr'], present: addressOrEmpty },
    { name: 'daddr', type: 'string', description: `${destination} address.`, from: ['family', 'daddr'], present: addressOrEmpty },
    { name: 'sport', type: 'number', description: `${source} port.`, from: 'sport' },
    { name: 'dport', type: 'number', description: `${destination} port.`, from: 'dport' },
  ];
}

/** The u64 counts of an array member (a histogram's slots), without the trailing empty slots. */
export function u64Counts(v: RawValue): number[] {
  const b = bytes(v);
  const out: number[] = [];
  for (let off = 0; off + 8 <= b.length; off += 8) out.push(Number(b.readBigUInt64LE(off)));
  while (out.length > 0 && out[out.length - 1] === 0) out.pop();
  return out;
}
