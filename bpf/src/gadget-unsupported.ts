/**
 * GadgetUnsupportedError: a gadget that this kernel cannot run, with the kernel feature it lacks —
 * a tracepoint, a type or field its CO-RE relocations need, a BPF helper, the BPF ring buffer. The
 * session throws it (instead of the addon's raw BpfError) when a load or attach failure has such
 * a cause, so that a runner can report "unsupported on this kernel: <feature>".
 */
import { release } from 'node:os';

export class GadgetUnsupportedError extends Error {
  constructor(
    readonly gadget: string,
    /** What the kernel lacks, e.g. `tracepoint syscalls:sys_enter_fsmount`, `struct sock.sk_cgrp_data`. */
    readonly feature: string,
    readonly kernel: string,
    override readonly cause: Error,
  ) {
    super(`gadget ${gadget} is not supported on kernel ${kernel}: it lacks ${feature}`);
    this.name = 'GadgetUnsupportedError';
  }
}

interface BpfErrorLike extends Error {
  code?: string;
  op?: string;
  map?: string;
}

/** The missing feature a load/attach failure of the addon names, or undefined for another failure. */
export function missingFeature(err: BpfErrorLike): string | undefined {
  const m = err.message;
  const section = /SEC\("(tracepoint|tp|raw_tp|raw_tracepoint)\/([^"]+)"\)/.exec(m);
  if (err.op === 'bpf_program__attach' && err.code === 'ENOENT' && section) {
    const [, kind, name = ''] = section;
    return kind === 'raw_tp' || kind === 'raw_tracepoint' ? `raw tracepoint ${name}` : `tracepoint ${name.replace('/', ':')}`;
  }
  const relo = /failed to resolve CO-RE relocation <[^>]+> \[\d+\] ([^(]+?)\s*\(/.exec(m);
  if (relo?.[1]) return relo[1];
  const helper = /unknown func (bpf_\w+)#\d+/.exec(m) ?? /invalid func unknown#(\d+)/.exec(m);
  if (helper?.[1]) return /^\d+$/.test(helper[1]) ? `BPF helper #${helper[1]}` : `BPF helper ${helper[1]}`;
  if (/map 'events'/.test(m) && /RINGBUF|ringbuf|map create|Invalid argument/.test(m) && err.op === 'bpf_object__load') {
    return 'BPF ring buffer (BPF_MAP_TYPE_RINGBUF, Linux 5.8+)';
  }
  return undefined;
}

/** err as a GadgetUnsupportedError when it names a missing kernel feature; otherwise err itself. */
export function asUnsupported(gadget: string, err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const feature = missingFeature(err);
  return feature ? new GadgetUnsupportedError(gadget, feature, release(), err) : err;
}
