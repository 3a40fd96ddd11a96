/**
 * profile gadget: CPU profile of the target containers. A CPU-clock perf event per CPU samples at
 * `frequencyHz`; the kernel keeps only the targets' samples and counts them per (thread, user
 * stack, kernel stack) — nothing goes through the ring buffer. While it traces, the collector
 * polls the counts every 250 ms and reads /proc/<pid>/maps (and the symbols of the mapped files)
 * of each new process, so a process that exits before the end still resolves. At the end each
 * (thread, stacks) entry becomes one event: its folded stack (`comm;outer;…;leaf`, kernel frames
 * ending in `_[k]`) and its sample count. Key layout: see profile.bpf.c.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent, TraceEvent } from '../../../contracts/index.ts';
import type { BpfObject } from '../../native/index.js';
import type { AggregateCollector, DecodeContext, GadgetDefinition, SummaryExtension } from '../../src/gadget-definition.ts';
import { readCString } from '../../src/record-fields.ts';
import { readKernelSymbols, type KernelSymbols } from './kernel-symbols.ts';
import { foldedFrame, ProfileTally } from './profile-summary.ts';
import { UserSymbolizer } from './user-symbolizer.ts';

export const PROFILE_MIN_HZ = 1;
export const PROFILE_MAX_HZ = 1000;

export const profileParamsSchema = Type.Object(
  {
    frequencyHz: Type.Integer({
      minimum: PROFILE_MIN_HZ,
      maximum: PROFILE_MAX_HZ,
      default: 49,
      description: 'Samples per second on each CPU (1…1000). 49 and 99 avoid running in step with timers.',
    }),
    userStacks: Type.Boolean({ default: true, description: 'Record user-space stacks.' }),
    kernelStacks: Type.Boolean({ default: true, description: 'Record kernel stacks.' }),
  },
  { additionalProperties: false },
);
export type ProfileParams = Static<typeof profileParamsSchema>;

export interface ProfileEvent extends BaseEvent {
  gadget: 'profile';
  /** `comm;outermost;…;leaf`: user frames then kernel frames (`_[k]`); unresolved frames are `module+0xoffset`. */
  folded: string;
  /** Samples of this thread with these stacks. */
  samples: number;
  userFrames: number;
  kernelFrames: number;
  [key: string]: unknown;
}

export const PROFILE_KEY_SIZE = 48;
const SAMPLES_MAP = 'samples';
const STACKS_MAP = 'stack_traces';
const DROPS_MAP = 'profile_drops';
const PROGRAM = 'profile_sample';

export interface ProfileKey {
  cgroupId: number;
  pid: number;
  tid: number;
  uid: number;
  userStackId: number;
  kernelStackId: number;
  comm: string;
}

export function decodeProfileKey(key: Buffer, at = 0): ProfileKey {
  return {
    cgroupId: Number(key.readBigUInt64LE(at)),
    pid: key.readUInt32LE(at + 8),
    tid: key.readUInt32LE(at + 12),
    uid: key.readUInt32LE(at + 16),
    userStackId: key.readInt32LE(at + 20),
    kernelStackId: key.readInt32LE(at + 24),
    comm: readCString(key, at + 28, at + 44),
  };
}

/** The addresses of a stack-trace map value, leaf first (it ends at the first 0). */
export function stackAddresses(value: Buffer): bigint[] {
  const out: bigint[] = [];
  for (let o = 0; o + 8 <= value.length; o += 8) {
    const ip = value.readBigUInt64LE(o);
    if (ip === 0n) break;
    out.push(ip);
  }
  return out;
}

/** Lost samples by cause, summed over CPUs (profile_drops: 3 u64 per CPU). */
export function profileDrops(value: Buffer | null): { stackCollision: number; stackError: number; samplesMapFull: number } {
  const d = { stackCollision: 0, stackError: 0, samplesMapFull: 0 };
  if (!value) return d;
  for (let o = 0; o + 24 <= value.length; o += 24) {
    d.stackCollision += Number(value.readBigUInt64LE(o));
    d.stackError += Number(value.readBigUInt64LE(o + 8));
    d.samplesMapFull += Number(value.readBigUInt64LE(o + 16));
  }
  return d;
}

export class ProfileCollector implements AggregateCollector<ProfileEvent> {
  private readonly users: UserSymbolizer;
  private kernel: KernelSymbols | undefined;

  constructor(
    private readonly object: BpfObject,
    options: { procRoot?: string } = {},
  ) {
    this.users = new UserSymbolizer(options.procRoot);
  }

  poll(): void {
    try {
      const { keys, count } = this.object.mapEntries(SAMPLES_MAP);
      for (let i = 0; i < count; i += 1) {
        const at = i * PROFILE_KEY_SIZE;
        this.users.observe(keys.readUInt32LE(at + 8), readCString(keys, at + 28, at + 44));
      }
    } catch {
      // a poll that fails is retried at the next one; collect() reads everything again
    }
  }

  lost(): number {
    const d = this.drops();
    return d.stackCollision + d.stackError + d.samplesMapFull;
  }

  drops(): { stackCollision: number; stackError: number; samplesMapFull: number } {
    return profileDrops(this.object.mapLookup(DROPS_MAP, Buffer.alloc(4)));
  }

  collect(ctx: DecodeContext): ProfileEvent[] {
    const { keys, values, count } = this.object.mapEntries(SAMPLES_MAP);
    const stacks = new Map<number, bigint[]>();
    const stack = (id: number): bigint[] => {
      if (id < 0) return [];
      let s = stacks.get(id);
      if (!s) {
        const key = Buffer.alloc(4);
        key.writeUInt32LE(id);
        const v = this.object.mapLookup(STACKS_MAP, key);
        s = v ? stackAddresses(v) : [];
        stacks.set(id, s);
      }
      return s;
    };
    const refreshed = new Set<string>();
    void ctx; // no kernel timestamps: the events are stamped with the moment they are collected
    const timestamp = (BigInt(Date.now()) * 1_000_000n).toString();
    const merged = new Map<string, ProfileEvent>();
    for (let i = 0; i < count; i += 1) {
      const k = decodeProfileKey(keys, i * PROFILE_KEY_SIZE);
      const samples = Number(values.readBigUInt64LE(i * 8));
      const user = stack(k.userStackId);
      const kern = stack(k.kernelStackId);
      const proc = `${k.pid}/${k.comm}`;
      if (user.length > 0 && !refreshed.has(proc)) {
        refreshed.add(proc);
        this.users.observe(k.pid, k.comm, true);
      }
      const frames = [foldedFrame(k.comm || '[unknown]')];
      for (let j = user.length - 1; j >= 0; j -= 1) frames.push(foldedFrame(this.users.frame(k.pid, k.comm, Number(user[j]), j > 0)));
      if (kern.length > 0) {
        this.kernel ??= readKernelSymbols();
        for (let j = kern.length - 1; j >= 0; j -= 1) frames.push(foldedFrame(this.kernel.frame(j > 0 ? kern[j]! - 1n : kern[j]!)));
      }
      const folded = frames.join(';');
      const id = `${k.cgroupId}/${k.pid}/${k.tid}/${folded}`;
      const known = merged.get(id);
      if (known) {
        known.samples += samples;
        continue;
      }
      merged.set(id, {
        gadget: 'profile',
        timestamp,
        pid: k.pid,
        tid: k.tid,
        uid: k.uid,
        comm: k.comm,
        cgroupId: k.cgroupId,
        folded,
        samples,
        userFrames: user.length,
        kernelFrames: kern.length,
      });
    }
    return [...merged.values()].sort((a, b) => b.samples - a.samples);
  }
}

function summaryExtension(params: Record<string, unknown>): SummaryExtension {
  const tally = new ProfileTally();
  return {
    add: (event: TraceEvent) => tally.add(event),
    result: () => ({ profile: tally.result(typeof params.frequencyHz === 'number' ? { frequencyHz: params.frequencyHz } : {}) }),
  };
}

export const profileGadget: GadgetDefinition<ProfileEvent> = {
  name: 'profile',
  description: 'CPU profile: on-CPU stacks of the target containers sampled at frequencyHz, with folded stacks and a flame graph.',
  paramsSchema: profileParamsSchema,
  fields: [
    { name: 'folded', type: 'string', description: 'Folded stack: comm;outermost;…;leaf (kernel frames end in _[k]; unresolved ones are module+0xoffset).' },
    { name: 'samples', type: 'number', description: 'Samples of this thread with this stack.' },
    { name: 'userFrames', type: 'number', description: 'User-space frames in the stack.' },
    { name: 'kernelFrames', type: 'number', description: 'Kernel frames in the stack.' },
  ],
  topFields: ['comm'],
  objectFile: 'bpf/gadgets/profile/profile.bpf.o',
  encodeConfig(params, filterByCgroup) {
    const p = params as ProfileParams;
    return Buffer.from([filterByCgroup ? 1 : 0, p.userStacks ? 1 : 0, p.kernelStacks ? 1 : 0]);
  },
  decode() {
    throw new Error('profile: the gadget sends no ring-buffer records (its samples are counted in kernel maps)');
  },
  aggregate: {
    attach(object, params) {
      object.attachPerfEvent(PROGRAM, { frequencyHz: (params as ProfileParams).frequencyHz });
    },
    createCollector(object) {
      return new ProfileCollector(object);
    },
  },
  summaryExtension: summaryExtension,
};
