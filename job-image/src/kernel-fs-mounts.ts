/**
 * Mounts bpffs (/sys/fs/bpf) and tracefs (/sys/kernel/tracing) when they are missing: libbpf finds
 * tracepoint ids in tracefs, and a fresh pod's /sys has neither. Needs CAP_SYS_ADMIN for the mount.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';

export interface KernelFsStatus {
  fs: 'bpf' | 'tracefs';
  mountPoint: string;
  action: 'present' | 'mounted' | 'failed';
  error?: string;
}

/** Mount points by filesystem type, from a mountinfo text. */
export function mountPointsByType(mountinfo: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep === -1) continue;
    const type = line.slice(sep + 3).split(' ')[0];
    const point = line.slice(0, sep).split(' ')[4];
    if (!type || !point) continue;
    out.set(type, [...(out.get(type) ?? []), point]);
  }
  return out;
}

export function ensureKernelFilesystems(mountinfoPath = '/proc/self/mountinfo'): KernelFsStatus[] {
  let byType: Map<string, string[]>;
  try {
    byType = mountPointsByType(readFileSync(mountinfoPath, 'utf8'));
  } catch {
    byType = new Map();
  }
  const wanted: { fs: 'bpf' | 'tracefs'; points: string[] }[] = [
    { fs: 'bpf', points: ['/sys/fs/bpf'] },
    { fs: 'tracefs', points: ['/sys/kernel/tracing', '/sys/kernel/debug/tracing'] },
  ];
  return wanted.map(({ fs, points }) => {
    const present = (byType.get(fs) ?? []).find((p) => points.includes(p));
    if (present) return { fs, mountPoint: present, action: 'present' };
    const mountPoint = points[0]!;
    try {
      if (!existsSync(mountPoint)) mkdirSync(mountPoint, { recursive: true });
      execFileSync('mount', ['-t', fs, fs, mountPoint], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
      return { fs, mountPoint, action: 'mounted' };
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
      return { fs, mountPoint, action: 'failed', error: stderr || (err as Error).message };
    }
  });
}
