/**
 * mount gadget: mount(2), umount2(2), fsmount(2) and move_mount(2): source, target, filesystem type,
 * flags (also by name) and the result. The cgroup filter applies to the caller at the call's start;
 * `failedOnly` is applied in the kernel. fsopen/fsconfig (which prepare an fsmount) are not traced:
 * the fs type and source of an fsmount are those of the fs context fd, `fromFd`.
 * The record is struct mount_event of mount.bpf.c; the fields below say how its members are shown.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import { defineGadget, paramFlag } from '../../src/define-gadget.ts';
import { bitNames, errorOfResult, named, num, text } from '../../src/presenters.ts';
import type { RawValue } from '../../src/record-layout.ts';

export const mountParamsSchema = Type.Object(
  {
    failedOnly: Type.Boolean({ default: false, description: 'Only report calls that failed.' }),
  },
  { additionalProperties: false },
);
export type MountParams = Static<typeof mountParamsSchema>;

export type MountCall = 'mount' | 'umount' | 'fsmount' | 'move_mount';

export interface MountEvent extends BaseEvent {
  gadget: 'mount';
  call: MountCall;
  /** mount: the source; move_mount: the from path. */
  source?: string;
  /** mount, umount: the mount point; move_mount: the to path. */
  target?: string;
  fstype?: string;
  flags: number;
  flagNames: string;
  /** fsmount: MOUNT_ATTR_* names. */
  attrNames?: string;
  /** fsmount: the fs context fd; move_mount: from_dfd. */
  fromFd?: number;
  /** move_mount: to_dfd. */
  toFd?: number;
  /** 0 or the new mount fd (fsmount), or -errno. */
  ret: number;
  error?: string;
  [key: string]: unknown;
}

/** MOUNT_OP_* of mount.bpf.c, in order. */
const CALLS: readonly MountCall[] = ['mount', 'umount', 'fsmount', 'move_mount'];
const bit = (n: number) => 1 << n;

const MS_FLAGS = (
  [
    'MS_RDONLY', 'MS_NOSUID', 'MS_NODEV', 'MS_NOEXEC', 'MS_SYNCHRONOUS', 'MS_REMOUNT', 'MS_MANDLOCK', 'MS_DIRSYNC', 'MS_NOSYMFOLLOW', '',
    'MS_NOATIME', 'MS_NODIRATIME', 'MS_BIND', 'MS_MOVE', 'MS_REC', 'MS_SILENT', 'MS_POSIXACL', 'MS_UNBINDABLE', 'MS_PRIVATE', 'MS_SLAVE',
    'MS_SHARED', 'MS_RELATIME', 'MS_KERNMOUNT', 'MS_I_VERSION', 'MS_STRICTATIME', 'MS_LAZYTIME',
  ] as const
)
  .map((name, i) => [bit(i), name] as const)
  .filter(([, name]) => name !== '');
const UMOUNT_FLAGS = [[1, 'MNT_FORCE'], [2, 'MNT_DETACH'], [4, 'MNT_EXPIRE'], [8, 'UMOUNT_NOFOLLOW']] as const;
const FSMOUNT_FLAGS = [[1, 'FSMOUNT_CLOEXEC']] as const;
const MOUNT_ATTRS = [
  [0x1, 'MOUNT_ATTR_RDONLY'], [0x2, 'MOUNT_ATTR_NOSUID'], [0x4, 'MOUNT_ATTR_NODEV'], [0x8, 'MOUNT_ATTR_NOEXEC'],
  [0x10, 'MOUNT_ATTR_NOATIME'], [0x20, 'MOUNT_ATTR_STRICTATIME'], [0x80, 'MOUNT_ATTR_NODIRATIME'],
  [0x100000, 'MOUNT_ATTR_IDMAP'], [0x200000, 'MOUNT_ATTR_NOSYMFOLLOW'],
] as const;
const MOVE_MOUNT_FLAGS = [
  [0x1, 'MOVE_MOUNT_F_SYMLINKS'], [0x2, 'MOVE_MOUNT_F_AUTOMOUNTS'], [0x4, 'MOVE_MOUNT_F_EMPTY_PATH'],
  [0x10, 'MOVE_MOUNT_T_SYMLINKS'], [0x20, 'MOVE_MOUNT_T_AUTOMOUNTS'], [0x40, 'MOVE_MOUNT_T_EMPTY_PATH'],
  [0x100, 'MOVE_MOUNT_SET_GROUP'], [0x200, 'MOVE_MOUNT_BENEATH'],
] as const;
const FLAG_TABLES = [MS_FLAGS, UMOUNT_FLAGS, FSMOUNT_FLAGS, MOVE_MOUNT_FLAGS];
/** The old "magic" mount(2) flags value in the upper 16 bits, which the kernel ignores. */
const MS_MGC_MSK = 0xffff0000;
const MS_MGC_VAL = 0xc0ed0000;

/** flags as a number: mount(2) flags are an unsigned long, of which only the low 32 bits mean anything. */
const flagsOf = (flags: RawValue) => num(flags) % 2 ** 32;

export function mountFlagNames(call: number, flags: number): string {
  const meaningful = call === 0 && (flags & MS_MGC_MSK) >>> 0 === MS_MGC_VAL ? flags & ~MS_MGC_MSK : flags;
  return bitNames(meaningful, FLAG_TABLES[call] ?? []);
}

/** A member only some calls have: present for those, absent for the others. */
const forCalls =
  (calls: readonly number[], present: (v: RawValue) => unknown) =>
  (op: RawValue, v: RawValue): unknown =>
    calls.includes(num(op)) ? present(v) : undefined;

export const mountGadget = defineGadget<MountEvent>({
  name: 'mount',
  description: 'Mounts and unmounts (mount, umount2, fsmount, move_mount): source, target, fs type, flags, result.',
  paramsSchema: mountParamsSchema,
  record: {
    struct: 'mount_event',
    fields: [
      { name: 'call', type: 'string', description: 'mount, umount, fsmount or move_mount.', from: 'op', present: named(CALLS, () => 'mount') },
      { name: 'source', type: 'string', description: 'mount: the source; move_mount: the from path.', optional: true, from: ['op', 'source'], present: forCalls([0, 3], text) },
      { name: 'target', type: 'string', description: 'mount, umount: the mount point; move_mount: the to path.', optional: true, from: ['op', 'target'], present: forCalls([0, 1, 3], text) },
      { name: 'fstype', type: 'string', description: 'mount: the filesystem type.', optional: true, from: ['op', 'fstype'], present: forCalls([0], text) },
      { name: 'flags', type: 'number', description: 'The flags argument (MS_*, MNT_*, FSMOUNT_*, MOVE_MOUNT_*).', from: 'flags', present: flagsOf },
      { name: 'flagNames', type: 'string', description: 'The flags by name.', from: ['op', 'flags'], present: (op, flags) => mountFlagNames(num(op), flagsOf(flags)) },
      { name: 'attrNames', type: 'string', description: 'fsmount: MOUNT_ATTR_* by name.', optional: true, from: ['op', 'attr_flags'], present: forCalls([2], (v) => bitNames(num(v), MOUNT_ATTRS)) },
      { name: 'fromFd', type: 'number', description: 'fsmount: the fs context fd; move_mount: from_dfd.', optional: true, from: ['op', 'from_fd'], present: forCalls([2, 3], num) },
      { name: 'toFd', type: 'number', description: 'move_mount: to_dfd.', optional: true, from: ['op', 'to_fd'], present: forCalls([3], num) },
      { name: 'ret', type: 'number', description: '0 (fsmount: the mount fd), or -errno.', from: 'ret' },
      { name: 'error', type: 'string', description: 'errno name of a failed call.', optional: true, from: 'ret', present: errorOfResult },
    ],
    unused: ['pad'],
  },
  topFields: ['comm', 'call', 'target', 'error'],
  config: { struct: 'mount_config', members: { failed_only: paramFlag('failedOnly') } },
});

export const decodeMount = mountGadget.decode;
