/**
 * open gadget: open(2)/openat(2)/openat2(2) with path, flags, mode and the fd or errno.
 * Both filters run in the kernel: `pathPrefix` is a byte-wise prefix of the path AS PASSED to the
 * call (a relative path stays relative; no resolution of dirfd, `..` or symlinks); `failedOnly`
 * keeps calls that returned an error. Record layout: see open.bpf.c.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import type { DecodeContext, GadgetDefinition } from '../../src/gadget-definition.ts';
import { decodeHeader, errnoName, readCString, requireLength } from '../../src/record-fields.ts';

const PATH_MAX = 256;

export const openParamsSchema = Type.Object(
  {
    failedOnly: Type.Boolean({ default: false, description: 'Only report opens that failed.' }),
    pathPrefix: Type.String({
      default: '',
      maxLength: PATH_MAX - 1,
      description:
        'Only report paths starting with this prefix, compared in the kernel with the path as the program passed it (relative paths are not resolved). Empty: every path. At most 255 bytes.',
    }),
  },
  { additionalProperties: false },
);
export type OpenParams = Static<typeof openParamsSchema>;

export interface OpenEvent extends BaseEvent {
  gadget: 'open';
  syscall: 'open' | 'openat' | 'openat2';
  path: string;
  pathTruncated: boolean;
  /** AT_FDCWD (-100) or the directory fd the path is relative to. */
  dirfd: number;
  flags: number;
  /** Symbolic flags, e.g. `O_WRONLY|O_CREAT|O_CLOEXEC`. */
  flagNames: string;
  mode: number;
  /** The raw result: fd, or -errno. */
  ret: number;
  fd?: number;
  errno?: number;
  error?: string;
  [key: string]: unknown;
}

const FIXED = 72;
const SYSCALLS = ['open', 'openat', 'openat2'] as const;

/** x86-64/generic values of the O_* flags (not the access mode). */
const OPEN_FLAGS: ReadonlyArray<[number, string]> = [
  [0o100, 'O_CREAT'],
  [0o200, 'O_EXCL'],
  [0o400, 'O_NOCTTY'],
  [0o1000, 'O_TRUNC'],
  [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'],
  [0o10000, 'O_DSYNC'],
  [0o20000, 'O_ASYNC'],
  [0o40000, 'O_DIRECT'],
  [0o100000, 'O_LARGEFILE'],
  [0o200000, 'O_DIRECTORY'],
  [0o400000, 'O_NOFOLLOW'],
  [0o1000000, 'O_NOATIME'],
  [0o2000000, 'O_CLOEXEC'],
  [0o4000000, 'O_SYNC'],
  [0o10000000, 'O_PATH'],
  [0o20000000, 'O_TMPFILE'],
];

export function openFlagNames(flags: number): string {
  const names = [['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'][flags & 3] as string];
  let rest = flags & ~3;
  for (const [bit, name] of OPEN_FLAGS) {
    if (rest & bit) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest) names.push(`0x${(rest >>> 0).toString(16)}`);
  return names.join('|');
}

export function decodeOpen(record: Buffer, ctx: DecodeContext): OpenEvent {
  requireLength('open', record, FIXED);
  const ret = record.readInt32LE(48);
  const flags = record.readUInt32LE(52);
  const pathLen = Math.min(record.readUInt16LE(60), record.length - FIXED);
  const event: OpenEvent = {
    gadget: 'open',
    ...decodeHeader(record, ctx),
    syscall: SYSCALLS[record.readUInt8(62)] ?? 'openat',
    path: readCString(record, FIXED, FIXED + pathLen),
    pathTruncated: record.readUInt8(63) !== 0,
    dirfd: record.readInt32LE(64),
    flags,
    flagNames: openFlagNames(flags),
    mode: record.readUInt32LE(56),
    ret,
  };
  if (ret >= 0) event.fd = ret;
  else {
    event.errno = -ret;
    event.error = errnoName(-ret);
  }
  return event;
}

export const openGadget: GadgetDefinition<OpenEvent> = {
  name: 'open',
  description: 'File opens (open, openat, openat2): path, flags, mode, fd or errno.',
  paramsSchema: openParamsSchema,
  fields: [
    { name: 'syscall', type: 'string', description: 'open, openat or openat2.' },
    { name: 'path', type: 'string', description: 'Path as passed (at most 255 bytes).' },
    { name: 'pathTruncated', type: 'boolean', description: 'The path was cut at 255 bytes.' },
    { name: 'dirfd', type: 'number', description: 'Directory fd of a relative path (-100: current directory).' },
    { name: 'flags', type: 'number', description: 'O_* flags.' },
    { name: 'flagNames', type: 'string', description: 'O_* flags by name.' },
    { name: 'mode', type: 'number', description: 'Mode bits for a created file.' },
    { name: 'ret', type: 'number', description: 'fd, or -errno.' },
    { name: 'fd', type: 'number', description: 'The new fd.', optional: true },
    { name: 'errno', type: 'number', description: 'errno of a failed open.', optional: true },
    { name: 'error', type: 'string', description: 'errno name of a failed open.', optional: true },
  ],
  topFields: ['comm', 'path', 'error'],
  objectFile: 'bpf/gadgets/open/open.bpf.o',
  checkParams(params) {
    const bytes = Buffer.byteLength(String(params.pathPrefix ?? ''), 'utf8');
    return bytes > PATH_MAX - 1 ? [{ field: 'pathPrefix', message: `must be at most ${PATH_MAX - 1} bytes in UTF-8, is ${bytes}` }] : [];
  },
  encodeConfig(params, filterByCgroup) {
    const p = params as OpenParams;
    const prefix = Buffer.from(p.pathPrefix ?? '', 'utf8');
    if (prefix.length > PATH_MAX - 1) {
      throw new RangeError(`pathPrefix is ${prefix.length} bytes; at most ${PATH_MAX - 1}`);
    }
    const buf = Buffer.alloc(4 + PATH_MAX);
    buf.writeUInt8(filterByCgroup ? 1 : 0, 0);
    buf.writeUInt8(p.failedOnly ? 1 : 0, 1);
    buf.writeUInt16LE(prefix.length, 2);
    prefix.copy(buf, 4);
    return buf;
  },
  decode: decodeOpen,
};
