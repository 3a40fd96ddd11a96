/**
 * oomkill gadget: processes the OOM killer chose (oom:mark_victim, as a raw tracepoint). The process
 * fields (pid, tid, ppid, uid, comm, cgroupId) are the VICTIM's, and the cgroup filter applies to the
 * victim's cgroup v2 id; the task that ran into the memory limit and invoked the OOM killer is
 * reported as `triggerPid`/`triggerComm`. The record is struct oomkill_event of oomkill.bpf.c; the fields below say how its members are shown.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import { defineGadget } from '../../src/define-gadget.ts';
import { num, text } from '../../src/presenters.ts';

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

export const oomkillGadget = defineGadget<OomkillEvent>({
  name: 'oomkill',
  description: 'Processes killed by the OOM killer: victim, its memory in pages, the task that triggered it.',
  paramsSchema: oomkillParamsSchema,
  record: {
    struct: 'oomkill_event',
    fields: [
      { name: 'totalVmPages', type: 'number', description: "Victim's virtual memory, pages.", from: 'total_vm_pages' },
      {
        name: 'rssPages',
        type: 'number',
        description: "Victim's resident memory, pages.",
        from: ['anon_rss_pages', 'file_rss_pages', 'shmem_rss_pages'],
        present: (anon, file, shmem) => num(anon) + num(file) + num(shmem),
      },
      { name: 'anonRssPages', type: 'number', description: 'Anonymous resident pages.', from: 'anon_rss_pages' },
      { name: 'fileRssPages', type: 'number', description: 'File-backed resident pages.', from: 'file_rss_pages' },
      { name: 'shmemRssPages', type: 'number', description: 'Shared-memory resident pages.', from: 'shmem_rss_pages' },
      { name: 'oomScoreAdj', type: 'number', description: "Victim's oom_score_adj.", from: 'oom_score_adj' },
      { name: 'triggerPid', type: 'number', description: 'Process that invoked the OOM killer.', from: 'trigger_pid' },
      { name: 'triggerComm', type: 'string', description: 'Command of the process that invoked the OOM killer.', from: 'trigger_comm', present: text },
    ],
    unused: ['pad'],
  },
  topFields: ['comm'],
  config: { struct: 'oomkill_config', members: {} },
});

export const decodeOomkill = oomkillGadget.decode;
