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
  // ~120k lines on a distribution kernel: one pass with indexOf, no regex, no BigInt per line.
  let starts: number[] = [];
  let names: string[] = [];
  let sorted = true;
  for (let at = 0; at < text.length; ) {
    let nl = text.indexOf('\n', at);
    if (nl < 0) nl = text.length;
    // ffffffff81000000 T _stext [module]
    const type = text.charCodeAt(at + 17);
    if (nl - at > 19 && text.charCodeAt(at + 16) === 32 && (type === 116 || type === 84 || type === 119 || type === 87) && text.startsWith('ffff', at)) {
      const start = Number.parseInt(text.slice(at + 4, at + 16), 16); // the offset from KERNEL_BASE: exact
      if (start > 0) {
        const line = text.slice(at + 19, nl);
        const tab = line.indexOf('\t');
        if (starts.length > 0 && start < starts[starts.length - 1]!) sorted = false;
        starts.push(start);
        names.push(tab < 0 ? line : `${line.slice(0, tab)} ${line.slice(tab + 1).trim()}`);
      }
    }
    at = nl + 1;
  }
  if (!sorted) {
    const order = starts.map((_, i) => i).sort((a, b) => starts[a]! - starts[b]!);
    starts = order.map((i) => starts[i]!);
    names = order.map((i) => names[i]!);
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
