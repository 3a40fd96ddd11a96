/**
 * A cpio archive in the "newc" format, the one the kernel unpacks as an initramfs
 * (Documentation/driver-api/early-userspace/buffer-format.rst): enough for the CO-RE guests'
 * tiny initramfs of directories and regular files, without a cpio binary.
 */
export interface CpioEntry {
  path: string;
  /** st_mode with the file type, e.g. 0o100755 for a file, 0o40755 for a directory. */
  mode: number;
  data?: Buffer;
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;
const hex8 = (n: number) => n.toString(16).padStart(8, '0');

function header(ino: number, mode: number, nlink: number, size: number, nameSize: number): string {
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  return '070701' + [ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, nameSize, 0].map(hex8).join('');
}

export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const add = (ino: number, mode: number, name: string, data: Buffer) => {
    const nameBytes = Buffer.from(`${name}\0`);
    const head = Buffer.from(header(ino, mode, mode & 0o40000 ? 2 : 1, data.length, nameBytes.length));
    parts.push(head, nameBytes, Buffer.alloc(pad4(head.length + nameBytes.length)), data, Buffer.alloc(pad4(data.length)));
  };
  entries.forEach((e, i) => add(i + 1, e.mode, e.path, e.data ?? Buffer.alloc(0)));
  add(0, 0, 'TRAILER!!!', Buffer.alloc(0));
  return Buffer.concat(parts);
}
