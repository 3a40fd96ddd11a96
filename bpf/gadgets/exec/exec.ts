/**
 * exec gadget: execve(2)/execveat(2) with filename, the first 20 arguments and the return value.
 * The event is emitted when the call returns: `timestamp` is that moment and `comm` is the command
 * after the exec (the new program's name when it succeeded). The cgroup filter is applied when the
 * call starts. Record layout: see exec.bpf.c.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import type { DecodeContext, GadgetDefinition } from '../../src/gadget-definition.ts';
import { decodeHeader, errnoName, readCString, readCStrings, requireLength } from '../../src/record-fields.ts';

export const execParamsSchema = Type.Object(
  {
    failedOnly: Type.Boolean({ default: false, description: 'Only report execs that failed (negative return value).' }),
  },
  { additionalProperties: false },
);
export type ExecParams = Static<typeof execParamsSchema>;

export interface ExecEvent extends BaseEvent {
  gadget: 'exec';
  filename: string;
  argv: string[];
  /** An argument was cut at 127 bytes, or there were more than 20 arguments, or argv could not be read. */
  argsTruncated: boolean;
  filenameTruncated: boolean;
  /** 0 on success, -errno on failure. */
  retval: number;
  /** errno name when the exec failed. */
  error?: string;
  execveat: boolean;
  [key: string]: unknown;
}

const FIXED = 64;
const FLAG_FILENAME_TRUNCATED = 1;
const FLAG_ARG_TRUNCATED = 2;
const FLAG_ARGS_DROPPED = 4;
const FLAG_EXECVEAT = 8;
const FLAG_ARGV_UNREADABLE = 16;

export function decodeExec(record: Buffer, ctx: DecodeContext): ExecEvent {
  requireLength('exec', record, FIXED);
  const retval = record.readInt32LE(48);
  const bufLen = Math.min(record.readUInt32LE(52), record.length - FIXED);
  const argc = record.readUInt16LE(56);
  const flags = record.readUInt8(58);
  const end = FIXED + bufLen;
  const nul = record.indexOf(0, FIXED);
  const filenameEnd = nul === -1 || nul >= end ? end : nul;
  const event: ExecEvent = {
    gadget: 'exec',
    ...decodeHeader(record, ctx),
    filename: readCString(record, FIXED, filenameEnd),
    argv: readCStrings(record, filenameEnd + 1, end).slice(0, argc),
    argsTruncated: (flags & (FLAG_ARG_TRUNCATED | FLAG_ARGS_DROPPED | FLAG_ARGV_UNREADABLE)) !== 0,
    filenameTruncated: (flags & FLAG_FILENAME_TRUNCATED) !== 0,
    retval,
    execveat: (flags & FLAG_EXECVEAT) !== 0,
  };
  if (retval < 0) event.error = errnoName(-retval);
  return event;
}

export const execGadget: GadgetDefinition<ExecEvent> = {
  name: 'exec',
  description: 'Program executions (execve, execveat): filename, arguments, result.',
  paramsSchema: execParamsSchema,
  fields: [
    { name: 'filename', type: 'string', description: 'Path passed to execve (at most 255 bytes).' },
    { name: 'argv', type: 'string[]', description: 'The first 20 arguments, each at most 127 bytes.' },
    { name: 'argsTruncated', type: 'boolean', description: 'Arguments were cut or dropped.' },
    { name: 'filenameTruncated', type: 'boolean', description: 'The filename was cut at 255 bytes.' },
    { name: 'retval', type: 'number', description: '0 on success, -errno on failure.' },
    { name: 'error', type: 'string', description: 'errno name of a failed exec.', optional: true },
    { name: 'execveat', type: 'boolean', description: 'The call was execveat(2).' },
  ],
  topFields: ['comm', 'filename'],
  objectFile: 'bpf/gadgets/exec/exec.bpf.o',
  encodeConfig(params, filterByCgroup) {
    const p = params as ExecParams;
    const buf = Buffer.alloc(2);
    buf.writeUInt8(filterByCgroup ? 1 : 0, 0);
    buf.writeUInt8(p.failedOnly ? 1 : 0, 1);
    return buf;
  },
  decode: decodeExec,
};
