/**
 * Every Lua script of the project starts with a header naming what it reads and returns (KEYS,
 * ARGV, Output), so a reader of the Redis side never has to reverse-engineer the call site.
 * Scripts are the template literals that call `redis.call` in the sources of api/, state/, scheduler/.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..', '..');

function sources(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sources(path, out);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

test('every Lua script has a header naming its input and output', () => {
  const script = /const ([A-Z_]+) = `(?:\$\{[A-Z_]+\})?\n([\s\S]*?)`;/g;
  const missing: string[] = [];
  let scripts = 0;
  for (const file of ['api', 'state', 'scheduler'].flatMap((d) => sources(join(root, d)))) {
    for (const [, name, body] of readFileSync(file, 'utf8').matchAll(script)) {
      if (!body!.includes('redis.call')) continue;
      scripts++;
      const header = /^--\[\[([\s\S]*?)\]\]/.exec(body!)?.[1] ?? '';
      const helper = /^\s*[a-z]+\(/.test(header); // a Lua function included by other scripts
      if (!header || (!helper && !(/KEYS\[1/.test(header) && /Output:/.test(header)))) missing.push(`${relative(root, file)}: ${name}`);
    }
  }
  assert.ok(scripts >= 10, `found ${scripts} scripts`);
  assert.deepEqual(missing, []);
});
