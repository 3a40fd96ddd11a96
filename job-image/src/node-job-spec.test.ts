import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidSpecError, hasTargets, parseNodeJobSpec } from './node-job-spec.ts';

const valid = {
  traceId: 't1',
  node: 'worker-1',
  gadget: 'tcpconnect',
  params: { port: 443 },
  durationSeconds: 30,
  maxEvents: 1000,
  maxResultBytes: 1 << 20,
  targets: {
    containers: [{ containerId: 'abc', runtime: 'cri-o', podUid: 'u', pod: 'web-0', namespace: 'shop', container: 'app' }],
    pods: [{ podUid: 'u2', pod: 'web-1', namespace: 'shop' }],
    cgroupPaths: ['system.slice/x.service'],
    pids: [1],
  },
  upload: { url: 'https://api.example/v1/runner/traces/t1/nodes/worker-1/result', token: 'tok' },
};

test('a complete spec comes back as it was', () => {
  assert.deepEqual(parseNodeJobSpec(structuredClone(valid)), valid);
});

test('defaults: params {}, maxEvents, no targets', () => {
  const spec = parseNodeJobSpec({ traceId: 't', node: 'n', gadget: 'exec', durationSeconds: 1 });
  assert.deepEqual(spec.params, {});
  assert.equal(spec.maxEvents, 1_000_000);
  assert.deepEqual(spec.targets, {});
  assert.equal(hasTargets(spec.targets), false);
  assert.equal(hasTargets({ allCgroups: true }), true);
  assert.equal(hasTargets({ pids: [] }), false);
});

test('each bad field is named in the error', () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ traceId: undefined }, 'traceId'],
    [{ node: '' }, 'node'],
    [{ gadget: 'strace' }, 'gadget'],
    [{ params: [] }, 'params'],
    [{ durationSeconds: 0 }, 'durationSeconds'],
    [{ durationSeconds: '10' }, 'durationSeconds'],
    [{ maxEvents: 1.5 }, 'maxEvents'],
    [{ maxResultBytes: -1 }, 'maxResultBytes'],
    [{ targets: [] }, 'targets'],
    [{ targets: { containers: [{ containerId: 'a', runtime: 'rkt' }] } }, 'targets.containers[0].runtime'],
    [{ targets: { pods: [{ pod: 'x' }] } }, 'targets.pods[0].podUid'],
    [{ targets: { cgroupPaths: ['ok', ''] } }, 'targets.cgroupPaths[1]'],
    [{ targets: { pids: [1, 0] } }, 'targets.pids[1]'],
    [{ targets: { allCgroups: 'yes' } }, 'targets.allCgroups'],
    [{ upload: { url: 'https://x/' } }, 'upload.token'],
    [{ upload: { url: 'not a url', token: 't' } }, 'upload.url'],
    [{ upload: 'https://x/' }, 'upload'],
  ];
  for (const [patch, field] of cases) {
    assert.throws(
      () => parseNodeJobSpec({ ...structuredClone(valid), ...patch }),
      (err: Error) => err instanceof InvalidSpecError && err.field === field && err.message.startsWith(`${field}: `),
      `${JSON.stringify(patch)} → ${field}`,
    );
  }
  assert.throws(() => parseNodeJobSpec('x'), (err: Error) => err instanceof InvalidSpecError && err.field === 'spec');
});
