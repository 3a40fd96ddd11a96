/**
 * signal gadget: signals generated (signal:signal_generate). The process fields (pid, comm, uid,
 * cgroupId) are the SENDER's (the task running when the kernel generated the signal; for signals
 * the kernel sends itself, e.g. SIGCHLD at exit or SIGSEGV, that is the task involved); the cgroup
 * filter applies to the sender. The record is struct signal_event of signal.bpf.c; the fields below say how its members are shown.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import { defineGadget, paramFlag, paramOrZero } from '../../src/define-gadget.ts';
import { named, nonZero, signal, text } from '../../src/presenters.ts';

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

/** enum trace_signal_result, in order. */
const RESULTS: readonly SignalResult[] = ['delivered', 'ignored', 'already pending', 'overflow', 'lost info'];

export const signalGadget = defineGadget<SignalEvent>({
  name: 'signal',
  description: 'Signals generated: signal, sender, target, result.',
  paramsSchema: signalParamsSchema,
  record: {
    struct: 'signal_event',
    fields: [
      { name: 'signal', type: 'number', description: 'Signal number.', from: 'sig' },
      { name: 'signalName', type: 'string', description: 'Signal name, e.g. SIGTERM.', from: 'sig', present: signal },
      { name: 'targetPid', type: 'number', description: 'Target thread id.', from: 'target_pid' },
      { name: 'targetComm', type: 'string', description: 'Target command name.', from: 'target_comm', present: text },
      { name: 'group', type: 'boolean', description: 'Sent to the whole process rather than one thread.', from: 'group', present: nonZero },
      { name: 'code', type: 'number', description: 'si_code.', from: 'code' },
      {
        name: 'result',
        type: 'string',
        description: 'delivered, ignored, already pending, overflow or lost info.',
        from: 'result',
        present: named(RESULTS, () => 'delivered'),
      },
    ],
    // errno_ of the tracepoint is always 0 for generated signals
    unused: ['errno_'],
  },
  topFields: ['comm', 'signalName', 'targetComm'],
  config: { struct: 'signal_config', members: { failed_only: paramFlag('failedOnly'), sig: paramOrZero('signal') } },
});

export const decodeSignal = signalGadget.decode;
