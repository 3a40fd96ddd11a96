/**
 * Kernel function symbols from /proc/kallsyms (text symbols only, module symbols with their
 * `[module]`). Addresses read as 0 (kptr_restrict, no CAP_SYSLOG) leave kernel frames unresolved:
 * they are shown as `[kernel]+0x<address>`.
 */
import { readFileSync } from 'node:fs';

/** Kernel addresses are above 2^63: kept as offsets from this base, exact as numbers (< 2^48). */
const KERNEL_BASE = 0xffff_0000_0000_0000n;

export interface KernelSymbols {
  /** `func_[k]`, `func [module]_[k]`, or `[kernel]+0x…_[k]` when not known. */
  frame(address: bigint): string;
  readonly count: number;
}

export function parseKallsyms(text: string): KernelSymbols {
  const starts: number[] = [];
  const names: string[] = [];
  const entries: { start: number; name: string }[] = [];
  for (const line of text.split('\n')) {
    // ffffffff81000000 T _stext [module]
    const sp1 = line.indexOf(' ');
    if (sp1 < 0) continue;
    const type = line[sp1 + 1];
    if (type !== 't' && type !== 'T' && type !== 'w' && type !== 'W') continue;
    const hex = line.slice(0, sp1);
    if (!/^[0-9a-f]{16}$/.test(hex)) continue;
    const raw = BigInt(`0x${hex}`);
    if (raw < KERNEL_BASE) continue; // 0 when addresses are hidden
    const start = Number(raw - KERNEL_BASE);
    const rest = line.slice(sp1 + 3);
    const tab = rest.indexOf('\t');
    const name = tab < 0 ? rest : `${rest.slice(0, tab)} ${rest.slice(tab + 1).trim()}`;
    entries.push({ start, name });
  }
  entries.sort((a, b) => a.start - b.start);
  for (const e of entries) {
    starts.push(e.start);
    names.push(e.name);
  }
  return {
    count: starts.length,
    frame(raw) {
      const address = raw >= KERNEL_BASE ? Number(raw - KERNEL_BASE) : -1;
      let lo = 0;
      let hi = starts.length - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (starts[mid]! <= address) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      return found < 0 ? `[kernel]+0x${raw.toString(16)}_[k]` : `${names[found]}_[k]`;
    },
  };
}

/** /proc/kallsyms of this node (empty when unreadable). */
export function readKernelSymbols(path = '/proc/kallsyms'): KernelSymbols {
  try {
    return parseKallsyms(readFileSync(path, 'utf8'));
  } catch {
    return parseKallsyms('');
  }
}
