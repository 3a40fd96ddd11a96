import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { failureReasonFromLog } from './local-backend.ts';

const dir = mkdtempSync(join(tmpdir(), 'tracejob-failure-'));
const log = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};

test('an uncaught exception is reported by its first line, not by the end of its stack', () => {
  const file = log('crash.log', "node:internal/modules/cjs/loader:1210\n  throw err;\n  ^\n\nError: Cannot find module '/x/runner.js'\n    at Module._resolveFilename (node:internal)\n  requireStack: []\n}\n\nNode.js v20.20.2\n");
  assert.equal(failureReasonFromLog(file), "Error: Cannot find module '/x/runner.js'");
});

test("the runner's last logged error wins over anything else", () => {
  const file = log('runner.log', [
    JSON.stringify({ level: 30, msg: 'runner starting' }),
    JSON.stringify({ level: 50, msg: 'loading the gadget failed', err: { message: 'EPERM: bpf_object__load' } }),
    JSON.stringify({ level: 30, msg: 'runner done' }),
  ].join('\n'));
  assert.equal(failureReasonFromLog(file), 'loading the gadget failed: EPERM: bpf_object__load');
});

test('otherwise the last lines; a missing log gives nothing', () => {
  assert.equal(failureReasonFromLog(log('plain.log', 'a\nb\nc\nd\n')), 'b | c | d');
  assert.equal(failureReasonFromLog(join(dir, 'absent.log')), '');
});
