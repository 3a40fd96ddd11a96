/**
 * Pod spec review: a trace request cannot influence the runner pod's image, command, arguments,
 * privileges, host paths, volumes or service account. Generated requests with fields beyond the
 * documented ones are refused 400; for accepted ones, the pod built from the stored spec (the way
 * the trace worker builds a node's job) differs from a reference pod only in the per-trace
 * fields: name, labels, annotations, nodeName (the resolved node) and activeDeadlineSeconds.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { NodeJobSpec } from '../../contracts/index.ts';
import { buildRunnerPod, DEFAULT_RUNNER_POD_CONFIG, runnerSecretName, specKey, type RunnerPodConfig } from '../../scheduler/src/kubernetes/runner-pod.ts';
import { parseAuthConfig } from '../../api/src/auth/access-policy.ts';
import { hashApiToken } from '../../api/src/auth/api-token-hash.ts';
import { startSecuredApp, type SecuredApp } from './secured-app.ts';

const TOKEN = 'tok-pod-review';
const auth = parseAuthConfig({ tokens: [{ name: 'ops', sha256: hashApiToken(TOKEN), namespaces: ['*'] }] }, 'test');
const podConfig: RunnerPodConfig = { ...DEFAULT_RUNNER_POD_CONFIG, image: 'registry.example/tracejob-runner@sha256:' + 'a'.repeat(64) };
const seed = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
let fx: SecuredApp;

before(async () => {
  fx = await startSecuredApp(auth, { MAX_DURATION_SECONDS: '600' });
  console.log(`runner-pod-influence: fast-check seed ${seed} (FC_SEED=${seed} reproduces)`);
});
after(async () => {
  await fx?.close();
});

/** Names an attacker would try to smuggle into the pod. */
const DANGEROUS = ['image', 'command', 'args', 'env', 'volumes', 'hostPath', 'hostPaths', 'nodeSelector', 'privileged', 'securityContext', 'serviceAccountName', 'runnerCommand', 'hostPID', 'hostNetwork', 'tolerations', 'containers', 'spec', 'upload', 'maxResultBytes', '__proto__', 'constructor', 'prototype'];
const MARK = 'EVIL-MARKER';

const documentedTarget = fc.record(
  {
    namespace: fc.constantFrom('shop', 'payments', 'kube-system'),
    labelSelector: fc.constantFrom('app=web', 'tier in (a,b)', '!legacy'),
    podName: fc.constantFrom('web-0', 'api-7f9c'),
    containerName: fc.constantFrom('app', 'sidecar'),
    nodeName: fc.constantFrom('worker-1', 'worker-2'),
  },
  { requiredKeys: ['namespace'] },
);

const request = fc.record(
  {
    gadget: fc.constantFrom('exec', 'open', 'tcpconnect', 'signal', 'bind', 'oomkill'),
    durationSeconds: fc.integer({ min: 1, max: 600 }),
    target: documentedTarget,
    limits: fc.record({ maxEvents: fc.integer({ min: 1, max: 1000 }) }),
  },
  { requiredKeys: ['gadget', 'target'] },
);

type Where = 'top' | 'target' | 'limits' | 'params';
const smuggled = fc.record({ where: fc.constantFrom<Where>('top', 'target', 'limits', 'params'), key: fc.constantFrom(...DANGEROUS), value: fc.constantFrom<unknown>(MARK, [MARK], { path: `/${MARK}` }, true) });

function jobOf(id: string, spec: { gadget: NodeJobSpec['gadget']; params: Record<string, unknown>; durationSeconds: number; limits: { maxEvents: number }; target: Record<string, unknown> }): NodeJobSpec {
  const node = typeof spec.target.nodeName === 'string' ? spec.target.nodeName : 'worker-1';
  return {
    traceId: id,
    node,
    gadget: spec.gadget,
    params: spec.params,
    durationSeconds: spec.durationSeconds,
    maxEvents: spec.limits.maxEvents,
    maxResultBytes: 1 << 20,
    targets: { pods: [{ podUid: '00000000-0000-0000-0000-000000000001', namespace: String(spec.target.namespace) }] },
    upload: { url: `http://api/v1/traces/${id}/nodes/${node}/result`, token: 'upload-token' },
  };
}

/** The pod with the per-trace fields blanked. */
function invariantPart(pod: ReturnType<typeof buildRunnerPod>): unknown {
  const copy = structuredClone(pod);
  delete copy.metadata;
  delete copy.spec!.nodeName;
  delete copy.spec!.activeDeadlineSeconds;
  // The spec volume names the trace's Secret and the node's key in it.
  const specVolume = copy.spec!.volumes!.find((v) => v.name === 'spec')!;
  const traceId = pod.metadata!.annotations!['tracejob.dev/trace-id']!;
  assert.equal(specVolume.secret!.secretName, runnerSecretName(traceId));
  assert.deepEqual(specVolume.secret!.items, [{ key: specKey(pod.spec!.nodeName!), path: 'spec.json' }]);
  specVolume.secret = { ...specVolume.secret!, secretName: 'SECRET', items: [] };
  return copy;
}

const reference = invariantPart(
  buildRunnerPod(jobOf('00000000-0000-4000-8000-000000000000', { gadget: 'exec', params: {}, durationSeconds: 1, limits: { maxEvents: 1 }, target: { namespace: 'x' } }), podConfig),
);

test('the reference pod takes image, command, host paths and privileges from configuration only', () => {
  const pod = buildRunnerPod(jobOf('00000000-0000-4000-8000-000000000000', { gadget: 'exec', params: {}, durationSeconds: 1, limits: { maxEvents: 1 }, target: { namespace: 'x' } }), podConfig);
  const c = pod.spec!.containers[0]!;
  assert.equal(c.image, podConfig.image);
  assert.deepEqual(c.command, [...podConfig.command]);
  assert.deepEqual(c.securityContext?.capabilities, { drop: ['ALL'], add: ['BPF', 'PERFMON', 'SYS_ADMIN'] });
  assert.equal(c.securityContext?.privileged, false);
  assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
  assert.equal(pod.spec!.automountServiceAccountToken, false);
  assert.equal(pod.spec!.hostNetwork, undefined);
  const hostPaths = pod.spec!.volumes!.filter((v) => v.hostPath).map((v) => v.hostPath!.path).sort();
  assert.deepEqual(hostPaths, ['/sys/fs/bpf', '/sys/fs/cgroup', '/sys/kernel/tracing']);
  const cgroupMount = c.volumeMounts!.find((m) => m.name === 'host-cgroup');
  assert.equal(cgroupMount?.readOnly, true, "the host's cgroupfs is mounted read-only");
  assert.ok(!JSON.stringify(pod).includes('upload-token'), 'the upload token is not in the pod (it travels in the Secret)');
});

test('requests with undocumented fields are refused 400; accepted ones build the reference pod', async () => {
  let accepted = 0;
  let refused = 0;
  await fc.assert(
    fc.asyncProperty(request, fc.option(smuggled, { nil: undefined }), async (base, extra) => {
      const body = structuredClone(base) as Record<string, unknown>;
      if (extra) {
        const holder = extra.where === 'top' ? body : ((body[extra.where] ??= {}) as Record<string, unknown>);
        Object.defineProperty(holder, extra.key, { value: extra.value, enumerable: true, configurable: true, writable: true });
      }
      const res = await fx.app.inject({ method: 'POST', url: '/v1/traces', payload: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } });
      if (extra && extra.where !== 'params') {
        assert.equal(res.statusCode, 400, `smuggled ${extra.where}.${extra.key}: ${res.body}`);
        const field = extra.where === 'top' ? extra.key : `${extra.where}.${extra.key}`;
        // The JSON parser itself refuses prototype keys (field "body").
        assert.ok([field, 'body'].includes(res.json().field) && (res.json().field === field || ['__proto__', 'constructor'].includes(extra.key)), res.body);
        refused += 1;
        return;
      }
      if (res.statusCode !== 202) {
        assert.equal(res.statusCode, 400, res.body);
        assert.match(res.json().field, /^(params|body$)/, 'only gadget params (or prototype keys, by the parser) may be refused here');
        refused += 1;
        return;
      }
      accepted += 1;
      const id = res.json().id as string;
      const rec = await fx.traces.get(id);
      assert.ok(rec);
      const spec = rec.spec as unknown as Parameters<typeof jobOf>[1];
      assert.deepEqual(Object.keys(rec.spec).filter((k) => !['gadget', 'durationSeconds', 'target', 'params', 'limits', 'callbackUrl'].includes(k)), []);
      const pod = buildRunnerPod(jobOf(id, spec), podConfig);
      assert.deepEqual(invariantPart(pod), reference);
      assert.ok(!JSON.stringify(pod).includes(MARK), 'nothing of the request beyond the documented fields reaches the pod');
      assert.equal(pod.spec!.activeDeadlineSeconds, spec.durationSeconds + podConfig.graceSeconds);
      await fx.app.inject({ method: 'DELETE', url: `/v1/traces/${id}`, headers: { authorization: `Bearer ${TOKEN}` } });
    }),
    { numRuns: 300, seed },
  );
  console.log(`runner-pod-influence: ${accepted} accepted, ${refused} refused`);
  assert.ok(accepted > 20 && refused > 20);
});
