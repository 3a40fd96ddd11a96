import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listGadgets } from '../gadgets/index.ts';
import { Btf, BtfFormatError } from './btf.ts';
import { buildGadgetObject } from './gadget-test-fixture.ts';
import { findRepoRoot } from './repo-paths.ts';

interface BpftoolType {
  kind: string;
  name: string;
  size?: number;
  members?: { name: string; bits_offset: number; bitfield_size?: number }[];
}

function hasBpftool(): boolean {
  try {
    execFileSync('bpftool', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('BTF of the gadget objects', () => {
  test('every named struct has the size and member offsets bpftool reads from the same object', { skip: hasBpftool() ? false : 'no bpftool' }, () => {
    let structs = 0;
    for (const g of listGadgets()) {
      buildGadgetObject(g.name);
      const file = join(findRepoRoot(), g.objectFile);
      const btf = Btf.fromObjectFile(file);
      const reference = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', file], { maxBuffer: 64 << 20 }).toString()) as { types: BpftoolType[] };
      for (const t of reference.types.filter((x) => x.kind === 'STRUCT' && x.name && x.name !== '(anon)')) {
        const ours = btf.struct(t.name);
        assert.equal(ours.size, t.size, `${g.name}: size of struct ${t.name}`);
        assert.deepEqual(
          ours.members.map((m) => [m.name || '(anon)', m.bitfieldBits === undefined ? m.offset * 8 : 'bitfield']),
          (t.members ?? []).map((m) => [m.name, m.bitfield_size ? 'bitfield' : m.bits_offset]),
          `${g.name}: members of struct ${t.name}`,
        );
        structs += 1;
      }
      if (!g.aggregate) assert.ok(btf.structNames().includes(`${g.name}_event`), `${g.name}: its record struct is in the BTF`);
      assert.ok(btf.structNames().includes(`${g.name}_config`), `${g.name}: its config struct is in the BTF`);
    }
    assert.ok(structs > 100, `compared ${structs} structs`);
  });

  test('integers, arrays and nested structs of a record', () => {
    buildGadgetObject('tcpconnect');
    const rec = Btf.fromObjectFile(join(findRepoRoot(), 'bpf/gadgets/tcpconnect/tcpconnect.bpf.o')).struct('tcpconnect_event');
    const member = (name: string) => rec.members.find((m) => m.name === name)?.shape;
    assert.deepEqual(member('sk_err'), { kind: 'int', size: 4, signed: true, bool: false });
    assert.deepEqual(member('sport'), { kind: 'int', size: 2, signed: false, bool: false });
    const saddr = member('saddr');
    assert.equal(saddr?.kind === 'array' && saddr.count, 16);
    const hdr = member('hdr');
    assert.equal(hdr?.kind === 'struct' && hdr.name, 'gadget_event_header');
  });

  test('a file that is not an ELF object, or has no BTF, is refused naming the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'btf-'));
    try {
      const notElf = join(dir, 'x.bpf.o');
      writeFileSync(notElf, 'hello, not an object file at all............................................');
      assert.throws(() => Btf.fromObjectFile(notElf), (e: unknown) => e instanceof BtfFormatError && e.message.includes(notElf) && /not an ELF/.test(e.message));
      const noBtf = join(dir, 'nobtf.o');
      execFileSync('clang', ['-target', 'bpf', '-O2', '-c', '-x', 'c', '-', '-o', noBtf], { input: 'int x = 1;\n' });
      assert.throws(() => Btf.fromObjectFile(noBtf), /no \.BTF section/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
