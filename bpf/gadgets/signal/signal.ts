/**
 * signal gadget: signals generated (signal:signal_generate). The process fields (pid, comm, uid,
 * cgroupId) are the SENDER's (the task running when the kernel generated the signal; for signals
 * the kernel sends itself, e.g. SIGCHLD at exit or SIGSEGV, that is the task involved); the cgroup
 * filter applies to the sender. Record layout: see signal.bpf.c.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import type { DecodeContext, GadgetDefinition } from '../../src/gadget-definition.ts';
import { decodeHeader, readCString, requireLength, signalName } from '../../src/record-fields.ts';

export const signalParamsSchema = Type.Object(
  {
    signal: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'Only report this signal number. Absent: every signal.' })),
    failedOnly: Type.Boolean({ default: false, description: 'Only report signals that were not delivered (ignored, already pending, queue overflow).' }),
  },
  { additionalProperties: false },
);
export type SignalParams = Static<typeof signalParamsSchema>;

export type SignalResult = 'delivered' | 'ignored' | 'already pending' | 'overflow' | 'lost info';

export interface SignalEvent extends BaseEvent {
  gadget: 'signal';
  signal: number;
  signalName: string;
  /** Target thread id. */
  targetPid: number;
  targetComm: string;
  /** Sent to the whole thread group (kill) rather than one thread (tgkill). */
  group: boolean;
  /** si_code (0: SI_USER, from kill(2)). */
  code: number;
  result: SignalResult;
  [key: string]: unknown;
}

const SIZE = 88;
/** enum trace_signal_result, in order. */
const RESULTS: readonly SignalResult[] = ['delivered', 'ignored', 'already pending', 'overflow', 'lost info'];

export function decodeSignal(record: Buffer, ctx: DecodeContext): SignalEvent {
  requireLength('signal', record, SIZE);
  const sig = record.readInt32LE(48);
  return {
    gadget: 'signal',
    ...decodeHeader(record, ctx),
    signal: sig,
    signalName: signalName(sig),
    targetPid: record.readInt32LE(60),
    targetComm: readCString(record, 72, 88),
    group: record.readInt32LE(64) !== 0,
    code: record.readInt32LE(56),
    result: RESULTS[record.readInt32LE(68)] ?? 'delivered',
  };
}

export const signalGadget: GadgetDefinition<SignalEvent> = {
  name: 'signal',
  description: 'Signals generated: signal, sender, target, result.',
  paramsSchema: signalParamsSchema,
  fields: [
    { name: 'signal', type: 'number', description: 'Signal number.' },
    { name: 'signalName', type: 'string', description: 'Signal name, e.g. SIGTERM.' },
    { name: 'targetPid', type: 'number', description: 'Target thread id.' },
    { name: 'targetComm', type: 'string', description: 'Target command name.' },
    { name: 'group', type: 'boolean', description: 'Sent to the whole process rather than one thread.' },
    { name: 'code', type: 'number', description: 'si_code.' },
    { name: 'result', type: 'string', description: 'delivered, ignored, already pending, overflow or lost info.' },
  ],
  topFields: ['comm', 'signalName', 'targetComm'],
  objectFile: 'bpf/gadgets/signal/signal.bpf.o',
  encodeConfig(params, filterByCgroup) {
    const p = params as SignalParams;
    const buf = Buffer.alloc(8);
    buf.writeUInt8(filterByCgroup ? 1 : 0, 0);
    buf.writeUInt8(p.failedOnly ? 1 : 0, 1);
    buf.writeInt32LE(p.signal ?? 0, 4);
    return buf;
  },
  decode: decodeSignal,
};
