import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { GADGET_NAMES } from '../../contracts/index.ts';
import { join } from 'node:path';
import { buildGadgetObject } from '../src/gadget-test-fixture.ts';
import { findRepoRoot } from '../src/repo-paths.ts';
import { GadgetParamsError, getGadget, listGadgets, parseParams, validateParams } from './index.ts';

describe('gadget registry', () => {
  test('holds exactly the catalogue of contracts/gadgets.ts, each under its own name', () => {
    assert.deepEqual(listGadgets().map((g) => g.name).sort(), [...GADGET_NAMES].sort());
    for (const name of GADGET_NAMES) assert.equal(getGadget(name)?.name, name);
    assert.equal(getGadget('nope'), undefined);
    assert.equal(getGadget('toString'), undefined);
  });

  test('every gadget folder is registered (a folder holding <name>.bpf.c is a gadget)', () => {
    const folders = readdirSync(import.meta.dirname, { withFileTypes: true })
      .filter((d) => d.isDirectory() && readdirSync(`${import.meta.dirname}/${d.name}`).includes(`${d.name}.bpf.c`))
      .map((d) => d.name)
      .sort();
    assert.deepEqual(folders, listGadgets().map((g) => g.name).sort());
  });

  test('every decoder and config encoder builds against the layouts in its object', () => {
    // an aggregating gadget (profile) reads its maps itself: it has no ring-buffer record
    for (const g of listGadgets().filter((x) => !x.aggregate)) {
      buildGadgetObject(g.name);
      const layout = g.layoutFor?.(join(findRepoRoot(), g.objectFile));
      assert.ok(layout, `${g.name} derives its layouts from its object`);
    }
  });

  test('every definition describes its params, fields and top fields, and its object lives in its folder', () => {
    for (const g of listGadgets()) {
      assert.equal(g.objectFile, `bpf/gadgets/${g.name}/${g.name}.bpf.o`);
      assert.ok(g.description.length > 0);
      for (const [key, schema] of Object.entries(g.paramsSchema.properties)) {
        assert.equal(typeof (schema as { description?: unknown }).description, 'string', `${g.name}.${key} has a description`);
      }
      const fieldNames = g.fields.map((f) => f.name);
      assert.equal(new Set(fieldNames).size, fieldNames.length, `${g.name}: field names are unique`);
      for (const top of g.topFields) assert.ok(top === 'comm' || fieldNames.includes(top), `${g.name}: top field ${top} is a field`);
      // the default params of every gadget encode to a config whose first byte is filter_by_cgroup
      const params = parseParams(g.name, {});
      assert.equal(g.encodeConfig(params, true)[0], 1);
      assert.equal(g.encodeConfig(params, false)[0], 0);
    }
  });

  test('validateParams names the field of each problem and does not modify its input', () => {
    const input = { port: 'http', extra: true };
    const r = validateParams('bind', input);
    assert.equal(r.ok, false);
    assert.deepEqual(r.errors.map((e) => e.field).sort(), ['extra', 'port']);
    assert.deepEqual(input, { port: 'http', extra: true });
    assert.deepEqual(validateParams('exec', 'x').errors, [{ field: '', message: 'params must be an object' }]);
    assert.deepEqual(validateParams('nope', {}).errors, [{ field: 'gadget', message: "unknown gadget 'nope'" }]);
    assert.deepEqual(validateParams('open', undefined), { ok: true, params: { failedOnly: false, pathPrefix: '' }, errors: [] });
  });

  test('parseParams throws GadgetParamsError with the field as params.<name>', () => {
    assert.throws(
      () => parseParams('tcpconnect', { port: -1 }),
      (err: unknown) => err instanceof GadgetParamsError && err.field === 'params.port' && /port/.test(err.message),
    );
  });
});
