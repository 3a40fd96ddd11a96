/**
 * exec gadget: execve(2)/execveat(2) with filename, the first 20 arguments and the return value.
 * The event is emitted when the call returns: `timestamp` is that moment and `comm` is the command
 * after the exec (the new program's name when it succeeded). The cgroup filter is applied when the
 * call starts. The record is struct exec_event of exec.bpf.c; the fields below say how its members are shown.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { BaseEvent } from '../../../contracts/index.ts';
import { defineGadget, paramFlag } from '../../src/define-gadget.ts';
import { bytes, errorOfResult, hasFlag, num } from '../../src/presenters.ts';
import type { RawValue } from '../../src/record-layout.ts';
import { readCString, readCStrings } from '../../src/record-fields.ts';

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

const FLAG_FILENAME_TRUNCATED = 1;
const FLAG_ARG_TRUNCATED = 2;
const FLAG_ARGS_DROPPED = 4;
const FLAG_EXECVEAT = 8;
const FLAG_ARGV_UNREADABLE = 16;

/** buf holds `filename\0arg0\0arg1\0...` in its first buf_len bytes: where the filename ends. */
function filenameEnd(buf: Buffer, used: number): number {
  const nul = buf.indexOf(0);
  return nul === -1 || nul >= used ? used : nul;
}

const usedBytes = (buf: RawValue, bufLen: RawValue): [Buffer, number] => {
  const b = bytes(buf);
  return [b, Math.min(num(bufLen), b.length)];
};

export const execGadget = defineGadget<ExecEvent>({
  name: 'exec',
  description: 'Program executions (execve, execveat): filename, arguments, result.',
  paramsSchema: execParamsSchema,
  record: {
    struct: 'exec_event',
    variableTail: 'buf',
    fields: [
      {
        name: 'filename',
        type: 'string',
        description: 'Path passed to execve (at most 255 bytes).',
        from: ['buf', 'buf_len'],
        present: (buf, bufLen) => {
          const [b, used] = usedBytes(buf, bufLen);
          return readCString(b, 0, filenameEnd(b, used));
        },
      },
      {
        name: 'argv',
        type: 'string[]',
        description: 'The first 20 arguments, each at most 127 bytes.',
        from: ['buf', 'buf_len', 'argc'],
        present: (buf, bufLen, argc) => {
          const [b, used] = usedBytes(buf, bufLen);
          return readCStrings(b, filenameEnd(b, used) + 1, used).slice(0, num(argc));
        },
      },
      {
        name: 'argsTruncated',
        type: 'boolean',
        description: 'Arguments were cut or dropped.',
        from: 'flags',
        present: hasFlag(FLAG_ARG_TRUNCATED | FLAG_ARGS_DROPPED | FLAG_ARGV_UNREADABLE),
      },
      { name: 'filenameTruncated', type: 'boolean', description: 'The filename was cut at 255 bytes.', from: 'flags', present: hasFlag(FLAG_FILENAME_TRUNCATED) },
      { name: 'retval', type: 'number', description: '0 on success, -errno on failure.', from: 'retval' },
      { name: 'error', type: 'string', description: 'errno name of a failed exec.', optional: true, from: 'retval', present: errorOfResult },
      { name: 'execveat', type: 'boolean', description: 'The call was execveat(2).', from: 'flags', present: hasFlag(FLAG_EXECVEAT) },
    ],
    unused: ['pad'],
  },
  topFields: ['comm', 'filename'],
  config: { struct: 'exec_config', members: { failed_only: paramFlag('failedOnly') } },
});

export const decodeExec = execGadget.decode;
