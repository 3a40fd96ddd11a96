import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Btf } from './btf.ts';
import { buildGadgetObject } from './gadget-test-fixture.ts';
import { buildConfigEncoder, buildRecordDecoder, LayoutMismatchError, type RecordSpec } from './record-layout.ts';
import { RecordLayoutError } from './record-fields.ts';
import { findRepoRoot } from './repo-paths.ts';
import { text } from './presenters.ts';

buildGadgetObject('signal');
const btf = Btf.fromObjectFile(join(findRepoRoot(), 'bpf/gadgets/signal/signal.bpf.o'));
const ctx = { bootToWallOffsetNs: 1000n };

/** Every member of struct signal_event presented as a plain field. */
const complete: RecordSpec = {
  struct: 'signal_event',
  fields: [
    { name: 'sig', type: 'number', description: 'd', from: 'sig' },
    { name: 'errno', type: 'number', description: 'd', from: 'errno_' },
    { name: 'code', type: 'number', description: 'd', from: 'code' },
    { name: 'target', type: 'number', description: 'd', from: 'target_pid' },
    { name: 'group', type: 'number', description: 'd', from: 'group' },
    { name: 'result', type: 'number', description: 'd', from: 'result' },
    { name: 'targetComm', type: 'string', description: 'd', from: 'target_comm', present: text },
  ],
};

describe('record decoders built from BTF', () => {
  test('reads each member at the offset and with the signedness of the C struct, the header included', () => {
    const layout = btf.struct('signal_event');
    const at = (name: string) => layout.members.find((m) => m.name === name)?.offset ?? -1;
    const hdr = btf.struct('gadget_event_header');
    const hat = (name: string) => hdr.members.find((m) => m.name === name)?.offset ?? -1;
    const rec = Buffer.alloc(layout.size);
    rec.writeBigUInt64LE(5n, hat('ts_boot_ns'));
    rec.writeBigUInt64LE(77n, hat('cgroup_id'));
    rec.writeUInt32LE(10, hat('pid'));
    rec.writeUInt32LE(11, hat('tid'));
    rec.writeUInt32LE(1, hat('ppid'));
    rec.writeUInt32LE(1000, hat('uid'));
    rec.write('sender', hat('comm'));
    rec.writeInt32LE(-3, at('code'));
    rec.writeInt32LE(15, at('sig'));
    rec.write('target', at('target_comm'));
    const decode = buildRecordDecoder('signal', complete, btf);
    assert.deepEqual(decode(rec, ctx), {
      gadget: 'signal',
      timestamp: '1005',
      cgroupId: 77,
      pid: 10,
      tid: 11,
      ppid: 1,
      uid: 1000,
      comm: 'sender',
      sig: 15,
      errno: 0,
      code: -3,
      target: 0,
      group: 0,
      result: 0,
      targetComm: 'target',
    });
    assert.throws(() => decode(rec.subarray(0, layout.size - 1), ctx), RecordLayoutError);
  });

  test('a member the spec names that the struct does not have fails the build', () => {
    const spec = { ...complete, fields: [...complete.fields, { name: 'x', type: 'number' as const, description: 'd', from: 'renamed_member' }] };
    assert.throws(() => buildRecordDecoder('signal', spec, btf), (e: unknown) => e instanceof LayoutMismatchError && /no member renamed_member/.test(e.message));
  });

  test('a member of the struct that no field shows and that is not declared unused fails the build', () => {
    const spec = { ...complete, fields: complete.fields.filter((f) => f.from !== 'errno_') };
    assert.throws(() => buildRecordDecoder('signal', spec, btf), /errno_ shown by no field/);
    assert.doesNotThrow(() => buildRecordDecoder('signal', { ...spec, unused: ['errno_'] }, btf));
  });

  test('a struct missing from the BTF, or without the common header first, is refused', () => {
    assert.throws(() => buildRecordDecoder('signal', { ...complete, struct: 'no_such_event' }, btf), /no struct no_such_event/);
    assert.throws(() => buildRecordDecoder('signal', { struct: 'signal_config', fields: [] }, btf), /first member must be struct gadget_event_header hdr/);
  });

  test('config encoders set members by name and refuse members no param sets', () => {
    const encode = buildConfigEncoder({ struct: 'signal_config', members: { failed_only: () => true, sig: () => -2 } }, btf);
    const cfg = btf.struct('signal_config');
    const buf = encode({}, true);
    assert.equal(buf.length, cfg.size);
    assert.equal(buf.readInt32LE(cfg.members.find((m) => m.name === 'sig')?.offset ?? -1), -2);
    assert.equal(buf[0], 1);
    assert.throws(() => buildConfigEncoder({ struct: 'signal_config', members: { failed_only: () => true } }, btf), /sig is set from no param/);
    assert.throws(() => buildConfigEncoder({ struct: 'signal_config', members: { failed_only: () => true, sig: () => 0, nope: () => 1 } }, btf), /no config member nope/);
  });
});
