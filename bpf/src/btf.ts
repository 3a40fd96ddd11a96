/**
 * The BTF that clang writes into a `.bpf.o` (its `.BTF` ELF section), read in TypeScript: enough of
 * it to know the layout of a gadget's structs — member names, byte offsets, sizes, integer
 * signedness, arrays, nested structs, enums. This is what makes the C struct the one declaration of
 * a record: the decoders and config encoders (record-layout.ts) are built from it.
 *
 * Format: https://docs.kernel.org/bpf/btf.html (type section, string section; ids from 1).
 */
import { readFileSync } from 'node:fs';

/** Thrown for a file that is not a 64-bit little-endian ELF with a valid `.BTF` section. */
export class BtfFormatError extends Error {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'BtfFormatError';
  }
}

export type BtfShape =
  | { kind: 'int'; size: number; signed: boolean; bool: boolean }
  | { kind: 'enum'; size: number; signed: boolean; values: ReadonlyMap<number, string> }
  | { kind: 'ptr'; size: 8 }
  | { kind: 'array'; size: number; count: number; element: BtfShape }
  | { kind: 'struct'; size: number; name: string; members: readonly BtfMember[] }
  | { kind: 'union'; size: number; name: string; members: readonly BtfMember[] }
  | { kind: 'other'; size: number; what: string };

export interface BtfMember {
  name: string;
  /** Byte offset in the enclosing struct. */
  offset: number;
  shape: BtfShape;
  /** Set for a bitfield member (its width in bits); such members are not byte-addressable. */
  bitfieldBits?: number;
}

const BTF_MAGIC = 0xeb9f;
enum Kind {
  INT = 1,
  PTR = 2,
  ARRAY = 3,
  STRUCT = 4,
  UNION = 5,
  ENUM = 6,
  FWD = 7,
  TYPEDEF = 8,
  VOLATILE = 9,
  CONST = 10,
  RESTRICT = 11,
  FUNC = 12,
  FUNC_PROTO = 13,
  VAR = 14,
  DATASEC = 15,
  FLOAT = 16,
  DECL_TAG = 17,
  TYPE_TAG = 18,
  ENUM64 = 19,
}

interface RawType {
  kind: Kind;
  name: string;
  vlen: number;
  kindFlag: boolean;
  /** size for INT/STRUCT/UNION/ENUM/DATASEC/FLOAT, referenced type id for the rest. */
  sizeOrType: number;
  /** Offset of the kind-specific data after the 12-byte common part. */
  extra: number;
}

/** The `.BTF` section of an ELF64 little-endian object. */
function btfSection(file: string, elf: Buffer): Buffer {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46) throw new BtfFormatError(file, 'not an ELF file');
  if (elf[4] !== 2 || elf[5] !== 1) throw new BtfFormatError(file, 'not a 64-bit little-endian ELF file');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const shstrndx = elf.readUInt16LE(0x3e);
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return { name: elf.readUInt32LE(at), offset: Number(elf.readBigUInt64LE(at + 24)), size: Number(elf.readBigUInt64LE(at + 32)) };
  };
  const names = section(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const nameStart = names.offset + s.name;
    const nameEnd = elf.indexOf(0, nameStart);
    if (elf.toString('latin1', nameStart, nameEnd) === '.BTF') return elf.subarray(s.offset, s.offset + s.size);
  }
  throw new BtfFormatError(file, 'no .BTF section (compile with clang -g)');
}

/** The types of one object's BTF, with the structs resolved to layouts on demand. */
export class Btf {
  private readonly types: RawType[] = [];
  private readonly shapes = new Map<number, BtfShape>();
  private readonly byName = new Map<string, number[]>();

  private constructor(
    readonly file: string,
    private readonly data: Buffer,
  ) {
    if (data.length < 24 || data.readUInt16LE(0) !== BTF_MAGIC) throw new BtfFormatError(file, 'bad BTF magic');
    const hdrLen = data.readUInt32LE(4);
    const typeOff = hdrLen + data.readUInt32LE(8);
    const typeEnd = typeOff + data.readUInt32LE(12);
    const strOff = hdrLen + data.readUInt32LE(16);
    const str = (off: number) => data.toString('utf8', strOff + off, data.indexOf(0, strOff + off));
    this.types.push({ kind: 0 as Kind, name: '', vlen: 0, kindFlag: false, sizeOrType: 0, extra: 0 }); // id 0: void
    for (let at = typeOff; at < typeEnd; ) {
      const info = data.readUInt32LE(at + 4);
      const t: RawType = {
        kind: ((info >>> 24) & 0x1f) as Kind,
        name: str(data.readUInt32LE(at)),
        vlen: info & 0xffff,
        kindFlag: info >>> 31 === 1,
        sizeOrType: data.readUInt32LE(at + 8),
        extra: at + 12,
      };
      this.types.push(t);
      if (t.name) this.byName.set(t.name, [...(this.byName.get(t.name) ?? []), this.types.length - 1]);
      at += 12 + extraSize(file, t);
    }
    this.str = str;
  }

  private readonly str: (off: number) => string;

  static fromObjectFile(file: string): Btf {
    return new Btf(file, btfSection(file, readFileSync(file)));
  }

  /** Raw BTF, as the kernel publishes its own in /sys/kernel/btf/vmlinux. */
  static fromRawFile(file: string): Btf {
    return new Btf(file, readFileSync(file));
  }

  /** The values of `enum <name>` by number; undefined when the BTF has no such enum. */
  enumValues(name: string): ReadonlyMap<number, string> | undefined {
    const id = (this.byName.get(name) ?? []).find((i) => this.types[i]?.kind === Kind.ENUM || this.types[i]?.kind === Kind.ENUM64);
    if (id === undefined) return undefined;
    const shape = this.shape(id);
    return shape.kind === 'enum' ? shape.values : undefined;
  }

  /** The layout of `struct <name>`; throws naming the file when the object's BTF has no such struct. */
  struct(name: string): Extract<BtfShape, { kind: 'struct' }> {
    const id = (this.byName.get(name) ?? []).find((i) => this.types[i]?.kind === Kind.STRUCT);
    if (id === undefined) {
      throw new BtfFormatError(this.file, `no struct ${name} in the BTF (declare it with GADGET_RECORD/GADGET_LAYOUT in the .bpf.c)`);
    }
    return this.shape(id) as Extract<BtfShape, { kind: 'struct' }>;
  }

  /** Names of every struct in the BTF. */
  structNames(): string[] {
    return this.types.filter((t) => t.kind === Kind.STRUCT && t.name).map((t) => t.name);
  }

  private shape(id: number): BtfShape {
    const cached = this.shapes.get(id);
    if (cached) return cached;
    const shape = this.resolve(id);
    this.shapes.set(id, shape);
    return shape;
  }

  private resolve(id: number): BtfShape {
    const t = this.types[id];
    if (!t) throw new BtfFormatError(this.file, `type id ${id} out of range`);
    const d = this.data;
    switch (t.kind) {
      case Kind.INT: {
        const enc = (d.readUInt32LE(t.extra) >>> 24) & 0x0f;
        return { kind: 'int', size: t.sizeOrType, signed: (enc & 1) !== 0, bool: (enc & 4) !== 0 };
      }
      case Kind.ENUM:
      case Kind.ENUM64: {
        const values = new Map<number, string>();
        const step = t.kind === Kind.ENUM ? 8 : 12;
        for (let i = 0; i < t.vlen; i++) {
          const at = t.extra + i * step;
          values.set(t.kind === Kind.ENUM ? d.readInt32LE(at + 4) : d.readUInt32LE(at + 4), this.str(d.readUInt32LE(at)));
        }
        return { kind: 'enum', size: t.sizeOrType, signed: t.kindFlag, values };
      }
      case Kind.PTR:
        return { kind: 'ptr', size: 8 };
      case Kind.ARRAY: {
        const element = this.shape(d.readUInt32LE(t.extra));
        const count = d.readUInt32LE(t.extra + 8);
        return { kind: 'array', size: element.size * count, count, element };
      }
      case Kind.STRUCT:
      case Kind.UNION: {
        const members: BtfMember[] = [];
        for (let i = 0; i < t.vlen; i++) {
          const at = t.extra + i * 12;
          const raw = d.readUInt32LE(at + 8);
          const bitOffset = t.kindFlag ? raw & 0xffffff : raw;
          const bits = t.kindFlag ? raw >>> 24 : 0;
          const member: BtfMember = { name: this.str(d.readUInt32LE(at)), offset: Math.floor(bitOffset / 8), shape: this.shape(d.readUInt32LE(at + 4)) };
          if (bits !== 0 || bitOffset % 8 !== 0) member.bitfieldBits = bits;
          members.push(member);
        }
        return { kind: t.kind === Kind.STRUCT ? 'struct' : 'union', size: t.sizeOrType, name: t.name, members };
      }
      case Kind.TYPEDEF:
      case Kind.VOLATILE:
      case Kind.CONST:
      case Kind.RESTRICT:
      case Kind.TYPE_TAG:
        return this.shape(t.sizeOrType);
      case Kind.FLOAT:
        return { kind: 'other', size: t.sizeOrType, what: 'float' };
      default:
        return { kind: 'other', size: 0, what: Kind[t.kind] ?? `kind ${t.kind}` };
    }
  }
}

function extraSize(file: string, t: RawType): number {
  switch (t.kind) {
    case Kind.INT:
    case Kind.VAR:
    case Kind.DECL_TAG:
      return 4;
    case Kind.ARRAY:
      return 12;
    case Kind.STRUCT:
    case Kind.UNION:
    case Kind.DATASEC:
      return 12 * t.vlen;
    case Kind.ENUM:
    case Kind.FUNC_PROTO:
      return 8 * t.vlen;
    case Kind.ENUM64:
      return 12 * t.vlen;
    case Kind.PTR:
    case Kind.FWD:
    case Kind.TYPEDEF:
    case Kind.VOLATILE:
    case Kind.CONST:
    case Kind.RESTRICT:
    case Kind.FUNC:
    case Kind.FLOAT:
    case Kind.TYPE_TAG:
      return 0;
    default:
      throw new BtfFormatError(file, `unknown BTF kind ${t.kind as number}`);
  }
}
