/**
 * open gadget: open(2)/openat(2)/openat2(2) with path, flags, mode and the fd or errno.
 * Both filters run in the kernel: `pathPrefix` is a byte-wise prefix of the path AS PASSED to the
 * call (a relative path stays relative; no resolution of dirfd, `..` or symlinks); `failedOnly`
 * keeps calls that returned an error. The record is struct open_event of open.bpf.c; the fields below say how its members are shown.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import { defineGadget, paramFlag } from '../../src/define-gadget.ts';
import { errorOfResult, named, nonZero, num, textOfLength } from '../../src/presenters.ts';

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

export const openGadget = defineGadget<OpenEvent>({
  name: 'open',
  description: 'File opens (open, openat, openat2): path, flags, mode, fd or errno.',
  paramsSchema: openParamsSchema,
  record: {
    struct: 'open_event',
    variableTail: 'path',
    fields: [
      { name: 'syscall', type: 'string', description: 'open, openat or openat2.', from: 'syscall', present: named(SYSCALLS, () => 'openat') },
      { name: 'path', type: 'string', description: 'Path as passed (at most 255 bytes).', from: ['path', 'path_len'], present: textOfLength },
      { name: 'pathTruncated', type: 'boolean', description: 'The path was cut at 255 bytes.', from: 'path_truncated', present: nonZero },
      { name: 'dirfd', type: 'number', description: 'Directory fd of a relative path (-100: current directory).', from: 'dirfd' },
      { name: 'flags', type: 'number', description: 'O_* flags.', from: 'flags' },
      { name: 'flagNames', type: 'string', description: 'O_* flags by name.', from: 'flags', present: (flags) => openFlagNames(num(flags)) },
      { name: 'mode', type: 'number', description: 'Mode bits for a created file.', from: 'mode' },
      { name: 'ret', type: 'number', description: 'fd, or -errno.', from: 'ret' },
      { name: 'fd', type: 'number', description: 'The new fd.', optional: true, from: 'ret', present: (ret) => (num(ret) >= 0 ? num(ret) : undefined) },
      { name: 'errno', type: 'number', description: 'errno of a failed open.', optional: true, from: 'ret', present: (ret) => (num(ret) < 0 ? -num(ret) : undefined) },
      { name: 'error', type: 'string', description: 'errno name of a failed open.', optional: true, from: 'ret', present: errorOfResult },
    ],
    unused: ['pad'],
  },
  topFields: ['comm', 'path', 'error'],
  checkParams(params) {
    const bytes = Buffer.byteLength(String(params.pathPrefix ?? ''), 'utf8');
    return bytes > PATH_MAX - 1 ? [{ field: 'pathPrefix', message: `must be at most ${PATH_MAX - 1} bytes in UTF-8, is ${bytes}` }] : [];
  },
  config: {
    struct: 'open_config',
    members: {
      failed_only: paramFlag('failedOnly'),
      prefix_len: (params) => prefixBytes(params).length,
      prefix: prefixBytes,
    },
  },
});

function prefixBytes(params: Record<string, unknown>): Buffer {
  const prefix = Buffer.from(String(params.pathPrefix ?? ''), 'utf8');
  if (prefix.length > PATH_MAX - 1) throw new RangeError(`pathPrefix is ${prefix.length} bytes; at most ${PATH_MAX - 1}`);
  return prefix;
}

export const decodeOpen = openGadget.decode;
