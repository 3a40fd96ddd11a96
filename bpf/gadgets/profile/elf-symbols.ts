/**
 * The function symbols of an ELF file (.symtab, else .dynsym) and its PT_LOAD segments, read with
 * positional reads of the headers and the two tables only (never the whole file). The files come
 * from the traced containers, so every offset and size is checked against the file and bounded:
 * a malformed or hostile file gives an error or an empty table, never a huge allocation.
 * 64-bit and 32-bit little-endian ELF; other files are refused (their frames stay module+offset).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export interface ElfSymbol {
  /** Virtual address (st_value). */
  start: number;
  /** st_size; 0 for symbols without a size (then they cover up to the next symbol). */
  size: number;
  name: string;
}

export interface ElfSegment {
  fileOffset: number;
  vaddr: number;
  fileSize: number;
}

export interface ElfSymbolTable {
  /** Sorted by start. */
  symbols: ElfSymbol[];
  /** Executable PT_LOAD segments: to turn a file offset into a virtual address. */
  segments: ElfSegment[];
}

export class ElfFormatError extends Error {
  override readonly name = 'ElfFormatError';
}

/** Largest symbol/string table read from one file. */
const MAX_TABLE_BYTES = 64 * 1024 * 1024;
const MAX_SECTIONS = 65_535;
const MAX_SEGMENTS = 4096;

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const PT_LOAD = 1;
const PF_X = 1;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;

interface Layout {
  is64: boolean;
  u16(b: Buffer, o: number): number;
}

function readAt(fd: number, fileSize: number, offset: number, length: number, what: string): Buffer {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > fileSize) {
    throw new ElfFormatError(`${what} (${length} bytes at ${offset}) lies outside the file (${fileSize} bytes)`);
  }
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, offset + done);
    if (n === 0) throw new ElfFormatError(`${what}: the file ended early`);
    done += n;
  }
  return buf;
}

function word(b: Buffer, o: number, is64: boolean): number {
  return is64 ? Number(b.readBigUInt64LE(o)) : b.readUInt32LE(o);
}

interface Section {
  type: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

/** Reads the function symbols and executable segments of the ELF file at `path`. Throws ElfFormatError or the fs error. */
export function readElfSymbols(path: string): ElfSymbolTable {
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    const ident = readAt(fd, fileSize, 0, Math.min(64, fileSize), 'ELF header');
    if (ident.length < 52 || ident.readUInt32BE(0) !== 0x7f454c46) throw new ElfFormatError('not an ELF file');
    const cls = ident[4];
    if (cls === 2 && ident.length < 64) throw new ElfFormatError('the ELF header is cut short');
    if (ident[5] !== 1) throw new ElfFormatError('not a little-endian ELF file');
    if (cls !== 1 && cls !== 2) throw new ElfFormatError(`unknown ELF class ${cls}`);
    const is64 = cls === 2;
    const layout: Layout = { is64, u16: (b, o) => b.readUInt16LE(o) };
    const h = ident;
    const phoff = word(h, is64 ? 32 : 28, is64);
    const shoff = word(h, is64 ? 40 : 32, is64);
    const phentsize = layout.u16(h, is64 ? 54 : 42);
    const phnum = layout.u16(h, is64 ? 56 : 44);
    const shentsize = layout.u16(h, is64 ? 58 : 46);
    const shnum = layout.u16(h, is64 ? 60 : 48);

    const segments: ElfSegment[] = [];
    if (phnum > 0) {
      if (phnum > MAX_SEGMENTS || phentsize < (is64 ? 56 : 32)) throw new ElfFormatError('bad program headers');
      const ph = readAt(fd, fileSize, phoff, phnum * phentsize, 'program headers');
      for (let i = 0; i < phnum; i += 1) {
        const o = i * phentsize;
        if (ph.readUInt32LE(o) !== PT_LOAD) continue;
        const flags = is64 ? ph.readUInt32LE(o + 4) : ph.readUInt32LE(o + 24);
        if ((flags & PF_X) === 0) continue;
        segments.push(
          is64
            ? { fileOffset: word(ph, o + 8, true), vaddr: word(ph, o + 16, true), fileSize: word(ph, o + 32, true) }
            : { fileOffset: ph.readUInt32LE(o + 4), vaddr: ph.readUInt32LE(o + 8), fileSize: ph.readUInt32LE(o + 16) },
        );
      }
    }

    const sections: Section[] = [];
    if (shnum > 0 && shoff > 0) {
      if (shnum > MAX_SECTIONS || shentsize < (is64 ? 64 : 40)) throw new ElfFormatError('bad section headers');
      const sh = readAt(fd, fileSize, shoff, shnum * shentsize, 'section headers');
      for (let i = 0; i < shnum; i += 1) {
        const o = i * shentsize;
        sections.push({
          type: sh.readUInt32LE(o + 4),
          offset: word(sh, o + (is64 ? 24 : 16), is64),
          size: word(sh, o + (is64 ? 32 : 20), is64),
          link: sh.readUInt32LE(o + (is64 ? 40 : 24)),
          entsize: word(sh, o + (is64 ? 56 : 36), is64),
        });
      }
    }
    const table = sections.find((s) => s.type === SHT_SYMTAB) ?? sections.find((s) => s.type === SHT_DYNSYM);
    const symbols = table ? readSymbols(fd, fileSize, table, sections, is64) : [];
    return { symbols, segments };
  } finally {
    closeSync(fd);
  }
}

function readSymbols(fd: number, fileSize: number, table: Section, sections: Section[], is64: boolean): ElfSymbol[] {
  const entsize = is64 ? 24 : 16;
  if (table.entsize !== 0 && table.entsize < entsize) throw new ElfFormatError('bad symbol entry size');
  const step = table.entsize || entsize;
  const strings = sections[table.link];
  if (!strings) throw new ElfFormatError('the symbol table names no string table');
  if (table.size > MAX_TABLE_BYTES || strings.size > MAX_TABLE_BYTES) throw new ElfFormatError('symbol table larger than 64 MiB');
  const syms = readAt(fd, fileSize, table.offset, table.size, 'symbol table');
  const strtab = readAt(fd, fileSize, strings.offset, strings.size, 'string table');
  const out: ElfSymbol[] = [];
  for (let o = 0; o + entsize <= syms.length; o += step) {
    const nameOff = syms.readUInt32LE(o);
    const info = is64 ? syms[o + 4]! : syms[o + 12]!;
    const shndx = is64 ? syms.readUInt16LE(o + 6) : syms.readUInt16LE(o + 14);
    const value = is64 ? Number(syms.readBigUInt64LE(o + 8)) : syms.readUInt32LE(o + 4);
    const size = is64 ? Number(syms.readBigUInt64LE(o + 16)) : syms.readUInt32LE(o + 8);
    const type = info & 0xf;
    if ((type !== STT_FUNC && type !== STT_GNU_IFUNC) || shndx === 0 || value === 0 || nameOff >= strtab.length) continue;
    const end = strtab.indexOf(0, nameOff);
    const name = strtab.toString('utf8', nameOff, end < 0 ? strtab.length : end);
    if (name) out.push({ start: value, size, name });
  }
  out.sort((a, b) => a.start - b.start || b.size - a.size);
  return out;
}

/** The virtual address of a file offset, through the executable segments; undefined when none holds it. */
export function fileOffsetToVaddr(table: ElfSymbolTable, fileOffset: number): number | undefined {
  for (const s of table.segments) {
    if (fileOffset >= s.fileOffset && fileOffset < s.fileOffset + s.fileSize) return fileOffset - s.fileOffset + s.vaddr;
  }
  return undefined;
}

/** The function holding `vaddr`: the last symbol starting at or before it that covers it (a sizeless one covers up to the next). */
export function symbolAt(symbols: readonly ElfSymbol[], vaddr: number): ElfSymbol | undefined {
  let lo = 0;
  let hi = symbols.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (symbols[mid]!.start <= vaddr) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  // several symbols may start at or before vaddr: the nearest with a size that covers it
  for (let i = found; i >= 0 && i > found - 8; i -= 1) {
    const s = symbols[i]!;
    if (s.size > 0 ? vaddr < s.start + s.size : i === found) return s;
  }
  return undefined;
}
