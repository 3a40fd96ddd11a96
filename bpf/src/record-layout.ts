/**
 * Decoders and config encoders built from the BTF of a gadget's object: the C structs
 * (`struct <gadget>_event`, `struct <gadget>_config`) are the one declaration of each layout, and a
 * gadget only says, per event field, which members it comes from and how they are shown. Nothing
 * here or in a gadget's folder names a byte offset, so a layout change in C cannot go unnoticed:
 * a member that was renamed or removed fails when the decoder is built, and a new member that no
 * field presents (and that is not declared unused) fails too.
 */
import type { BaseEvent, GadgetName } from '../../contracts/index.ts';
import type { Btf, BtfMember, BtfShape } from './btf.ts';
import type { DecodeContext, EventField, EventFieldType, GadgetEvent } from './gadget-definition.ts';
import { RecordLayoutError, readCString } from './record-fields.ts';

/** A member's raw value: integers and enums as numbers, bools as booleans, arrays as a view of their bytes. */
export type RawValue = number | boolean | Buffer;

/** One event field: where it comes from and how it is shown. */
export interface RecordField {
  name: string;
  type: EventFieldType;
  description: string;
  /** True when `present` may return undefined (the field is then absent). */
  optional?: boolean;
  /** The struct member(s) whose raw values `present` receives, in this order; nested members as `a.b`. */
  from: string | readonly string[];
  /** Raw value(s) → field value (undefined: absent). Default: the number, the boolean, or a char array's string. */
  present?: (...values: RawValue[]) => unknown;
}

export interface RecordSpec {
  /** The C struct of a record, e.g. `exec_event`; its first member is `struct gadget_event_header hdr`. */
  struct: string;
  fields: readonly RecordField[];
  /** Members no field shows (padding, or what only the kernel side uses). */
  unused?: readonly string[];
  /** The last member when a record may end inside it (the kernel sends only the used part). */
  variableTail?: string;
}

export type RecordDecoder<E> = (record: Buffer, ctx: DecodeContext) => E;

type Accessor = (record: Buffer) => RawValue;

/** Thrown when a spec and the C struct disagree (an unknown or an unpresented member, a wrong type). */
export class LayoutMismatchError extends Error {
  constructor(
    readonly struct: string,
    detail: string,
  ) {
    super(`struct ${struct}: ${detail}`);
    this.name = 'LayoutMismatchError';
  }
}

interface FlatMember {
  name: string;
  offset: number;
  shape: BtfShape;
}

/** Every byte-addressable leaf member, nested structs flattened as `outer.inner`. */
function flatten(members: readonly BtfMember[], prefix = '', base = 0, out = new Map<string, FlatMember>()): Map<string, FlatMember> {
  for (const m of members) {
    const name = prefix + m.name;
    if (m.bitfieldBits !== undefined) continue;
    // an anonymous struct or union contributes its members as the enclosing struct's (as in C)
    if (m.name === '' && (m.shape.kind === 'struct' || m.shape.kind === 'union')) flatten(m.shape.members, prefix, base + m.offset, out);
    else if (m.shape.kind === 'struct') flatten(m.shape.members, `${name}.`, base + m.offset, out);
    else out.set(name, { name, offset: base + m.offset, shape: m.shape });
  }
  return out;
}

function intReader(size: number, signed: boolean, offset: number): (r: Buffer) => number {
  switch (size) {
    case 1:
      return signed ? (r) => r.readInt8(offset) : (r) => r.readUInt8(offset);
    case 2:
      return signed ? (r) => r.readInt16LE(offset) : (r) => r.readUInt16LE(offset);
    case 4:
      return signed ? (r) => r.readInt32LE(offset) : (r) => r.readUInt32LE(offset);
    case 8:
      return signed ? (r) => Number(r.readBigInt64LE(offset)) : (r) => Number(r.readBigUInt64LE(offset));
    default:
      throw new RangeError(`no ${size}-byte integers`);
  }
}

function accessor(struct: string, m: FlatMember, tail: boolean): Accessor {
  const { shape, offset } = m;
  if (shape.kind === 'int' && shape.bool) {
    const read = intReader(shape.size, false, offset);
    return (r) => read(r) !== 0;
  }
  if (shape.kind === 'int' || shape.kind === 'enum') return intReader(shape.size, shape.signed, offset);
  if (shape.kind === 'ptr') return intReader(8, false, offset);
  if (shape.kind === 'array') {
    const end = offset + shape.size;
    return tail ? (r) => r.subarray(offset, Math.min(end, r.length)) : (r) => r.subarray(offset, end);
  }
  throw new LayoutMismatchError(struct, `member ${m.name} is a ${shape.kind === 'other' ? shape.what : shape.kind}, which records cannot hold`);
}

function isCharArray(shape: BtfShape): boolean {
  return shape.kind === 'array' && shape.element.kind === 'int' && shape.element.size === 1;
}

/** The default presentation: numbers and booleans as they are, a char array as its string. */
function defaultPresent(struct: string, field: RecordField, m: FlatMember): (v: RawValue) => unknown {
  if (isCharArray(m.shape)) return (v) => readCString(v as Buffer);
  if (m.shape.kind === 'array') {
    throw new LayoutMismatchError(struct, `field ${field.name}: member ${m.name} is an array; say how to present it`);
  }
  return (v) => v;
}

interface FieldReader {
  name: string;
  value: (r: Buffer) => unknown;
}

/** The reader of each field from the members it names; marks those members used. */
function fieldReaders(struct: string, specFields: readonly RecordField[], members: Map<string, FlatMember>, used: Set<string>, variableTail?: string): FieldReader[] {
  return specFields.map((field) => {
    const sources = typeof field.from === 'string' ? [field.from] : field.from;
    const reads = sources.map((name) => {
      const m = members.get(name);
      if (!m) throw new LayoutMismatchError(struct, `field ${field.name}: no member ${name}`);
      used.add(name);
      return { m, read: accessor(struct, m, name === variableTail) };
    });
    const firstRead = reads[0];
    if (!firstRead) throw new LayoutMismatchError(struct, `field ${field.name} comes from no member`);
    const present = field.present ?? defaultPresent(struct, field, firstRead.m);
    if (reads.length === 1) {
      const read = firstRead.read;
      return { name: field.name, value: (r: Buffer) => present(read(r)) };
    }
    const readers = reads.map((x) => x.read);
    return { name: field.name, value: (r: Buffer) => present(...readers.map((read) => read(r))) };
  });
}

/** Members no field used and not declared unused: a LayoutMismatchError. */
function checkAllPresented(struct: string, members: Map<string, FlatMember>, used: Set<string>, unused: readonly string[] = []): void {
  for (const name of unused) {
    if (!members.has(name)) throw new LayoutMismatchError(struct, `unused member ${name} does not exist`);
    used.add(name);
  }
  const unpresented = [...members.keys()].filter((n) => !used.has(n));
  if (unpresented.length > 0) {
    throw new LayoutMismatchError(struct, `member(s) ${unpresented.join(', ')} shown by no field and not declared unused`);
  }
}

const HEADER_STRUCT = 'gadget_event_header';

/** The common fields from the header members (struct gadget_event_header of gadget_common.h). */
function headerReader(struct: string, members: Map<string, FlatMember>): (r: Buffer, ctx: DecodeContext) => BaseEvent {
  const need = (name: string) => {
    const m = members.get(`hdr.${name}`);
    if (!m) throw new LayoutMismatchError(struct, `the first member must be struct ${HEADER_STRUCT} hdr (no hdr.${name})`);
    return m;
  };
  const tsOffset = need('ts_boot_ns').offset;
  const cgroupId = accessor(struct, need('cgroup_id'), false);
  const pid = accessor(struct, need('pid'), false);
  const tid = accessor(struct, need('tid'), false);
  const ppid = accessor(struct, need('ppid'), false);
  const uid = accessor(struct, need('uid'), false);
  const comm = accessor(struct, need('comm'), false);
  return (r, ctx) => ({
    timestamp: (r.readBigUInt64LE(tsOffset) + ctx.bootToWallOffsetNs).toString(),
    pid: pid(r) as number,
    tid: tid(r) as number,
    ppid: ppid(r) as number,
    uid: uid(r) as number,
    comm: readCString(comm(r) as Buffer),
    cgroupId: cgroupId(r) as number,
  });
}

/** Build the decoder of `spec` against the struct as the object's BTF lays it out. */
export function buildRecordDecoder<E extends GadgetEvent>(gadget: GadgetName, spec: RecordSpec, btf: Btf): RecordDecoder<E> {
  const layout = btf.struct(spec.struct);
  const first = layout.members[0];
  if (first?.name !== 'hdr' || first.shape.kind !== 'struct' || first.shape.name !== HEADER_STRUCT || first.offset !== 0) {
    throw new LayoutMismatchError(spec.struct, `the first member must be struct ${HEADER_STRUCT} hdr`);
  }
  const members = flatten(layout.members);
  const used = new Set<string>([...members.keys()].filter((n) => n.startsWith('hdr.')));
  for (const name of spec.unused ?? []) {
    if (!members.has(name)) throw new LayoutMismatchError(spec.struct, `unused member ${name} does not exist`);
    used.add(name);
  }
  let minLength = layout.size;
  if (spec.variableTail !== undefined) {
    const tail = members.get(spec.variableTail);
    if (!tail) throw new LayoutMismatchError(spec.struct, `variable tail ${spec.variableTail} does not exist`);
    if (tail.offset + tail.shape.size !== layout.size) throw new LayoutMismatchError(spec.struct, `${spec.variableTail} is not the last member`);
    minLength = tail.offset;
  }
  const fields = fieldReaders(spec.struct, spec.fields, members, used, spec.variableTail);
  checkAllPresented(spec.struct, members, used);
  const header = headerReader(spec.struct, members);
  return (record, ctx) => {
    if (record.length < minLength) throw new RecordLayoutError(gadget, record.length, minLength);
    const event: Record<string, unknown> = { gadget, ...header(record, ctx) };
    for (const f of fields) {
      const v = f.value(record);
      if (v !== undefined) event[f.name] = v;
    }
    return event as E;
  };
}

/**
 * How the entries of an aggregating gadget's map become events. `struct` is a C struct of two
 * members, `key` and `value`, of the map's key and value types (`struct blockio_stats_entry`):
 * the key's bytes followed by the value's, which is how the reader hands them over, so the same
 * BTF names every member (`key.pid`, `value.requests`).
 */
export interface EntrySpec {
  struct: string;
  /** The members of the common event fields; `timestampBootNs` absent: the moment of collection. */
  common: { cgroupId: string; pid: string; comm: string; timestampBootNs?: string };
  fields: readonly RecordField[];
  unused?: readonly string[];
}

export interface EntryDecoder<E> {
  keySize: number;
  valueSize: number;
  /** One entry (key bytes, value bytes) to an event stamped `collectedAtNs` unless its spec has a time member. */
  decode(key: Buffer, value: Buffer, ctx: DecodeContext, collectedAtNs: bigint): E;
}

/** Build the decoder of map entries against the entry struct as the object's BTF lays it out. */
export function buildEntryDecoder<E extends GadgetEvent>(gadget: GadgetName, spec: EntrySpec, btf: Btf): EntryDecoder<E> {
  const layout = btf.struct(spec.struct);
  const [key, value] = layout.members;
  if (key?.name !== 'key' || key.offset !== 0 || key.shape.kind !== 'struct' || value?.name !== 'value' || value.shape.kind !== 'struct') {
    throw new LayoutMismatchError(spec.struct, 'an entry struct has two members, struct key then struct value');
  }
  if (value.offset !== key.shape.size || layout.members.length !== 2) {
    throw new LayoutMismatchError(spec.struct, `value must follow key directly (key is ${key.shape.size} bytes, value at ${value.offset})`);
  }
  const members = flatten(layout.members);
  const used = new Set<string>();
  const common = (name: string) => {
    const m = members.get(name);
    if (!m) throw new LayoutMismatchError(spec.struct, `no member ${name} for a common field`);
    used.add(name);
    return accessor(spec.struct, m, false);
  };
  const cgroupId = common(spec.common.cgroupId);
  const pid = common(spec.common.pid);
  const comm = common(spec.common.comm);
  const bootNs = spec.common.timestampBootNs !== undefined ? common(spec.common.timestampBootNs) : undefined;
  const fields = fieldReaders(spec.struct, spec.fields, members, used);
  checkAllPresented(spec.struct, members, used, spec.unused);
  const keySize = key.shape.size;
  const valueSize = value.shape.size;
  return {
    keySize,
    valueSize,
    decode(k, v, ctx, collectedAtNs) {
      if (k.length < keySize || v.length < valueSize) throw new RecordLayoutError(gadget, k.length + v.length, keySize + valueSize);
      const r = Buffer.concat([k.subarray(0, keySize), v.subarray(0, valueSize)]);
      const at = bootNs ? BigInt(bootNs(r) as number) + ctx.bootToWallOffsetNs : collectedAtNs;
      const p = pid(r) as number;
      const event: Record<string, unknown> = { gadget, timestamp: at.toString(), pid: p, tid: p, uid: 0, comm: readCString(comm(r) as Buffer), cgroupId: cgroupId(r) as number };
      for (const f of fields) {
        const x = f.value(r);
        if (x !== undefined) event[f.name] = x;
      }
      return event as E;
    },
  };
}

/** The event fields a spec declares, for the catalogue. */
export function eventFields(spec: Pick<RecordSpec, 'fields'>): EventField[] {
  return spec.fields.map(({ name, type, description, optional }) => (optional ? { name, type, description, optional } : { name, type, description }));
}

export type ConfigValue = number | boolean | Buffer;

export interface ConfigSpec {
  /** The C struct of the `config` global, e.g. `bind_config`; its first member is `bool filter_by_cgroup`. */
  struct: string;
  /** The value of each member (but filter_by_cgroup) from params with defaults applied; members named pad* stay zero. */
  members: Readonly<Record<string, (params: Record<string, unknown>) => ConfigValue>>;
}

export type ConfigEncoder = (params: Record<string, unknown>, filterByCgroup: boolean) => Buffer;

function writer(struct: string, m: FlatMember): (buf: Buffer, v: ConfigValue) => void {
  const { shape, offset, name } = m;
  if (shape.kind === 'int' || shape.kind === 'enum') {
    const size = shape.size;
    const signed = shape.signed;
    return (buf, v) => {
      if (typeof v !== 'number' && typeof v !== 'boolean') throw new TypeError(`${struct}.${name} takes a number`);
      const n = Number(v);
      if (size === 8) {
        if (signed) buf.writeBigInt64LE(BigInt(n), offset);
        else buf.writeBigUInt64LE(BigInt(n), offset);
      } else if (signed) buf.writeIntLE(n, offset, size);
      else buf.writeUIntLE(n, offset, size);
    };
  }
  if (shape.kind === 'array') {
    return (buf, v) => {
      if (!Buffer.isBuffer(v)) throw new TypeError(`${struct}.${name} takes bytes`);
      if (v.length > shape.size) throw new RangeError(`${struct}.${name}: ${v.length} bytes do not fit in ${shape.size}`);
      v.copy(buf, offset);
    };
  }
  throw new LayoutMismatchError(struct, `config member ${name} cannot be set`);
}

/** Build the encoder of the `config` global against the struct as the object's BTF lays it out. */
export function buildConfigEncoder(spec: ConfigSpec, btf: Btf): ConfigEncoder {
  const layout = btf.struct(spec.struct);
  const members = flatten(layout.members);
  const filter = members.get('filter_by_cgroup');
  if (!filter || filter.offset !== 0) throw new LayoutMismatchError(spec.struct, 'the first member must be bool filter_by_cgroup');
  for (const name of members.keys()) {
    if (name !== 'filter_by_cgroup' && !name.startsWith('pad') && !Object.hasOwn(spec.members, name)) {
      throw new LayoutMismatchError(spec.struct, `config member ${name} is set from no param`);
    }
  }
  const writeFilter = writer(spec.struct, filter);
  const writes = Object.entries(spec.members).map(([name, value]) => {
    const m = members.get(name);
    if (!m) throw new LayoutMismatchError(spec.struct, `no config member ${name}`);
    return { write: writer(spec.struct, m), value };
  });
  return (params, filterByCgroup) => {
    const buf = Buffer.alloc(layout.size);
    writeFilter(buf, filterByCgroup);
    for (const w of writes) w.write(buf, w.value(params));
    return buf;
  };
}

/**
 * The bytes of `struct <name>` with the given members set by name (nested as `hdr.pid`), the rest
 * zero: records and configs for tests, laid out by the BTF like everything else.
 */
export function encodeStruct(btf: Btf, struct: string, values: Readonly<Record<string, number | boolean | Buffer | string>>): Buffer {
  const layout = btf.struct(struct);
  const members = flatten(layout.members);
  const buf = Buffer.alloc(layout.size);
  for (const [name, value] of Object.entries(values)) {
    const m = members.get(name);
    if (!m) throw new LayoutMismatchError(struct, `no member ${name}`);
    writer(struct, m)(buf, typeof value === 'string' ? Buffer.from(value) : value);
  }
  return buf;
}
