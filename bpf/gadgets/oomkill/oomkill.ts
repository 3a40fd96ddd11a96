/**
 * oomkill gadget: processes the OOM killer chose (oom:mark_victim, as a raw tracepoint). The process
 * fields (pid, tid, ppid, uid, comm, cgroupId) are the VICTIM's, and the cgroup filter applies to the
 * victim's cgroup v2 id; the task that ran into the memory limit and invoked the OOM killer is
 * reported as `triggerPid`/`triggerComm`. Record layout: see oomkill.bpf.c.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import type { DecodeContext, GadgetDefinition } from '../../src/gadget-definition.ts';
import { decodeHeader, readCString, requireLength } from '../../src/record-fields.ts';

export const oomkillParamsSchema = Type.Object({}, { additionalProperties: false });
export type OomkillParams = Static<typeof oomkillParamsSchema>;

export interface OomkillEvent extends BaseEvent {
  gadget: 'oomkill';
  /** Victim's virtual memory size, pages. */
  totalVmPages: number;
  /** Victim's resident memory (anon + file + shmem), pages. */
  rssPages: number;
  anonRssPages: number;
  fileRssPages: number;
  shmemRssPages: number;
  oomScoreAdj: number;
  triggerPid: number;
  triggerComm: string;
  [key: string]: unknown;
}

const SIZE = 104;

export function decodeOomkill(record: Buffer, ctx: DecodeContext): OomkillEvent {
  requireLength('oomkill', record, SIZE);
  const anon = Number(record.readBigUInt64LE(56));
  const file = Number(record.readBigUInt64LE(64));
  const shmem = Number(record.readBigUInt64LE(72));
  return {
    gadget: 'oomkill',
    ...decodeHeader(record, ctx),
    totalVmPages: Number(record.readBigUInt64LE(48)),
    rssPages: anon + file + shmem,
    anonRssPages: anon,
    fileRssPages: file,
    shmemRssPages: shmem,
    oomScoreAdj: record.readInt16LE(84),
    triggerPid: record.readUInt32LE(80),
    triggerComm: readCString(record, 88, 104),
  };
}

export const oomkillGadget: GadgetDefinition<OomkillEvent> = {
  name: 'oomkill',
  description: 'Processes killed by the OOM killer: victim, its memory in pages, the task that triggered it.',
  paramsSchema: oomkillParamsSchema,
  fields: [
    { name: 'totalVmPages', type: 'number', description: "Victim's virtual memory, pages." },
    { name: 'rssPages', type: 'number', description: "Victim's resident memory, pages." },
    { name: 'anonRssPages', type: 'number', description: 'Anonymous resident pages.' },
    { name: 'fileRssPages', type: 'number', description: 'File-backed resident pages.' },
    { name: 'shmemRssPages', type: 'number', description: 'Shared-memory resident pages.' },
    { name: 'oomScoreAdj', type: 'number', description: "Victim's oom_score_adj." },
    { name: 'triggerPid', type: 'number', description: 'Process that invoked the OOM killer.' },
    { name: 'triggerComm', type: 'string', description: 'Command of the process that invoked the OOM killer.' },
  ],
  topFields: ['comm'],
  objectFile: 'bpf/gadgets/oomkill/oomkill.bpf.o',
  encodeConfig(_params, filterByCgroup) {
    return Buffer.from([filterByCgroup ? 1 : 0]);
  },
  decode: decodeOomkill,
};
