/**
 * The executable mappings of a process (/proc/<pid>/maps), and where to read each mapped file from
 * the node: `/proc/<pid>/root/<path>` (the path as the process sees it, through its mount
 * namespace: a container's binaries resolve), else `/proc/<pid>/map_files/<start>-<end>` (works
 * for deleted files too, needs CAP_SYS_ADMIN).
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

export interface ExecMapping {
  start: number;
  end: number;
  /** File offset of `start`. */
  offset: number;
  /** `major:minor:inode` of the file: the same file in every mount namespace. */
  fileKey: string;
  /** Path as the process sees it, or a pseudo name such as `[vdso]`. */
  path: string;
  /** Files to try, in order, to read the mapped file from this process. */
  sources: string[];
}

/** Parses /proc/<pid>/maps text: the executable mappings, sorted by start. */
export function parseMaps(text: string, pid: number, procRoot = '/proc'): ExecMapping[] {
  const out: ExecMapping[] = [];
  for (const line of text.split('\n')) {
    // start-end perms offset dev inode [path]
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, startHex, endHex, perms, offsetHex, dev, inode, rawPath] = m as unknown as [string, string, string, string, string, string, string, string];
    if (perms[2] !== 'x') continue;
    const path = rawPath.replace(/ \(deleted\)$/, '');
    const start = Number.parseInt(startHex, 16);
    const end = Number.parseInt(endHex, 16);
    const fileBacked = inode !== '0' && path.startsWith('/');
    out.push({
      start,
      end,
      offset: Number.parseInt(offsetHex, 16),
      fileKey: fileBacked ? `${dev}:${inode}` : '',
      path: path || '[anon]',
      sources: fileBacked ? [`${procRoot}/${pid}/root${path}`, `${procRoot}/${pid}/map_files/${startHex}-${endHex}`] : [],
    });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** The executable mappings of a live process, or undefined when it has gone (or cannot be read). */
export function readProcessMaps(pid: number, procRoot = '/proc'): ExecMapping[] | undefined {
  try {
    return parseMaps(readFileSync(`${procRoot}/${pid}/maps`, 'utf8'), pid, procRoot);
  } catch {
    return undefined;
  }
}

/** The mapping holding `address`. */
export function mappingAt(maps: readonly ExecMapping[], address: number): ExecMapping | undefined {
  let lo = 0;
  let hi = maps.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = maps[mid]!;
    if (address < m.start) hi = mid - 1;
    else if (address >= m.end) lo = mid + 1;
    else return m;
  }
  return undefined;
}

/** The module name shown for an unresolved frame: the file's base name, or the pseudo name. */
export function moduleName(m: ExecMapping): string {
  return m.path.startsWith('/') ? basename(m.path) : m.path;
}
