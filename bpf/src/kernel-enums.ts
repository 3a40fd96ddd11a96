/**
 * Names of the running kernel's own enums (enum skb_drop_reason, enum req_op, ...): their numbers
 * change between kernel versions, so they are read from the kernel's BTF, once, when first needed.
 */
import { Btf } from './btf.ts';

const VMLINUX_BTF = '/sys/kernel/btf/vmlinux';
let vmlinux: Btf | null | undefined;
const cache = new Map<string, ReadonlyMap<number, string>>();

function kernelBtf(btfFile: string): Btf | null {
  if (vmlinux === undefined) {
    try {
      vmlinux = Btf.fromRawFile(btfFile);
    } catch {
      vmlinux = null;
    }
  }
  return vmlinux;
}

/** The values of `enum <name>` of the running kernel (empty when it has no BTF or no such enum). */
export function kernelEnum(name: string, btfFile = VMLINUX_BTF): ReadonlyMap<number, string> {
  let values = cache.get(name);
  if (!values) {
    values = kernelBtf(btfFile)?.enumValues(name) ?? new Map();
    cache.set(name, values);
  }
  return values;
}


/** `NETFILTER_DROP` for SKB_DROP_REASON_NETFILTER_DROP; `reason <n>` when this kernel does not name n. */
export function dropReasonName(reason: number): string {
  const name = kernelEnum('skb_drop_reason').get(reason);
  return name ? name.replace(/^SKB_DROP_REASON_/, '') : `reason ${reason}`;
}
