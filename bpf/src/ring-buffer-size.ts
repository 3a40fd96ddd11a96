/**
 * Size of a gadget's ring buffer, chosen at load: `bytesPerCpu` for each CPU of the node (every CPU
 * can produce at once while the reader thread waits for its turn), rounded up to the power of two
 * the kernel requires, within [minBytes, maxBytes].
 */
export interface RingBufferSizing {
  cpus: number;
  bytesPerCpu: number;
  /** Default 256 KiB. */
  minBytes?: number;
  /** Default 256 MiB. */
  maxBytes?: number;
}

export const DEFAULT_RING_BUFFER_BYTES_PER_CPU = 2 << 20;
const PAGE_SIZE = 4096;

function powerOfTwoAtLeast(n: number): number {
  let p = PAGE_SIZE;
  while (p < n) p *= 2;
  return p;
}

function powerOfTwoAtMost(n: number): number {
  let p = PAGE_SIZE;
  while (p * 2 <= n) p *= 2;
  return p;
}

export function ringBufferBytesFor(sizing: RingBufferSizing): number {
  const { cpus, bytesPerCpu } = sizing;
  if (!Number.isInteger(cpus) || cpus < 1) throw new RangeError(`cpus: ${cpus} is not a CPU count`);
  if (!Number.isInteger(bytesPerCpu) || bytesPerCpu < 1) throw new RangeError(`bytesPerCpu: ${bytesPerCpu} must be a positive integer`);
  const min = powerOfTwoAtLeast(sizing.minBytes ?? 256 << 10);
  const max = powerOfTwoAtMost(sizing.maxBytes ?? 256 << 20);
  if (max < min) throw new RangeError(`maxBytes (${sizing.maxBytes}) is below minBytes (${sizing.minBytes ?? 256 << 10})`);
  return Math.min(max, Math.max(min, powerOfTwoAtLeast(cpus * bytesPerCpu)));
}
