/**
 * The error codes the README documents are exactly the ones the API answers with: the codes of
 * errors.ts (ERROR_CODES, each ApiError class) and any error body written literally elsewhere.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as errors from './errors.ts';
import { ApiError, ERROR_CODES, httpErrorOf } from './errors.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

/** Rows of the README's "Errors" table: code → status. */
function documentedCodes(): Map<string, number> {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const section = readme.split(/^### Errors$/m)[1];
  assert.ok(section, 'README.md has an "### Errors" section');
  const rows = new Map<string, number>();
  for (const line of section.split('\n').slice(1)) {
    if (line.startsWith('#')) break;
    const m = /^\| `([a-z_]+)` \| (\d{3}) \|/.exec(line);
    if (m) rows.set(m[1]!, Number(m[2]));
  }
  return rows;
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sourceFiles(path, out);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

test('the README documents exactly the error codes of errors.ts, with their statuses', () => {
  assert.deepEqual(Object.fromEntries([...documentedCodes()].sort()), Object.fromEntries(Object.entries(ERROR_CODES).sort()));
});

test('every ApiError class answers with a listed code and that code’s status', () => {
  type ErrorClass = new (a: string, b: string) => ApiError;
  const classes = (Object.values(errors) as unknown[]).filter(
    (v): v is ErrorClass => typeof v === 'function' && (v as { prototype?: unknown }).prototype instanceof ApiError,
  );
  assert.ok(classes.length >= 9, `found ${classes.length} ApiError classes`);
  for (const ErrorClass of classes) {
    const err = new ErrorClass('field', 'message');
    const { status, body } = httpErrorOf(err);
    assert.equal(ERROR_CODES[body.error], status, `${ErrorClass.name}: ${body.error} → ${status}`);
  }
});

test('errors httpErrorOf makes up itself (framework and Redis faults) use listed codes', () => {
  const cases: unknown[] = [
    { validation: [{ instancePath: '/gadget', keyword: 'enum', params: { allowedValues: ['exec'] } }], validationContext: 'body' },
    { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', message: 'nope' },
    { code: 'FST_ERR_CTP_BODY_TOO_LARGE' },
    { code: 'FST_ERR_CTP_INVALID_JSON_BODY', statusCode: 400, message: 'bad json' },
    { statusCode: 404, message: 'gone' },
    new Error('connect ECONNREFUSED 127.0.0.1:6379'),
    { statusCode: 418, message: 'teapot' },
    new Error('boom'),
  ];
  for (const thrown of cases) {
    const { body } = httpErrorOf(thrown);
    assert.ok(body.error in ERROR_CODES, `${body.error} is listed`);
  }
});

test('error bodies written outside errors.ts (SSE, plugins) use listed codes', () => {
  const literal = /\berror: '([a-z_]+)'/g;
  const seen = new Set<string>();
  for (const file of sourceFiles(join(repoRoot, 'api', 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(literal)) {
      seen.add(m[1]!);
      assert.ok(m[1]! in ERROR_CODES, `${file}: error '${m[1]}' is not in ERROR_CODES (errors.ts) nor in the README`);
    }
  }
  assert.ok(seen.has('not_found'), 'the scan finds the literal error bodies (e.g. the 404 handler)');
});
