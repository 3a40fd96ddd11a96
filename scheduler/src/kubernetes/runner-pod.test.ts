import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { NodeJobSpec } from '../../../contracts/index.ts';
import {
  buildRunnerPod,
  buildRunnerSecrets,
  DEFAULT_RUNNER_POD_CONFIG,
  labelValue,
  runnerPodName,
  runnerSecretName,
  runnerSelector,
  specKey,
  type RunnerPodConfig,
} from './runner-pod.ts';

const config: RunnerPodConfig = { ...DEFAULT_RUNNER_POD_CONFIG, image: 'registry.example/tracejob-runner:1.0' };

function job(node: string, traceId = 'tr_01HZX3ABCDEF'): NodeJobSpec {
  return {
    traceId,
    node,
    gadget: 'exec',
    params: {},
    durationSeconds: 30,
    maxEvents: 1000,
    targets: { containers: [{ containerId: 'abc', runtime: 'containerd', pod: 'web-1', namespace: 'shop', container: 'web' }] },
    upload: { url: 'http://api.tracejob:8080/v1/traces/x/nodes/n/result', token: 'secret-upload-token' },
  };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

test('pod name: deterministic per (trace, node), a DNS label, distinct for distinct pairs', () => {
  assert.equal(runnerPodName('t1', 'node-a'), runnerPodName('t1', 'node-a'));
  assert.notEqual(runnerPodName('t1', 'node-a'), runnerPodName('t1', 'node-b'));
  assert.notEqual(runnerPodName('t1', 'node-a'), runnerPodName('t2', 'node-a'));
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 100 }), fc.string({ minLength: 1, maxLength: 253 }), (trace, node) => {
      const name = runnerPodName(trace, node);
      assert.ok(name.length <= 63, name);
      assert.match(name, DNS_LABEL);
      const secret = runnerSecretName(trace);
      assert.ok(secret.length <= 63, secret);
      assert.match(secret, DNS_LABEL);
    }),
  );
  // Long names that share a prefix still differ (the hash covers the whole names).
  const long = 'ip-10-0-0-1.eu-west-1.compute.internal.'.repeat(5);
  assert.notEqual(runnerPodName('t', `${long}a`), runnerPodName('t', `${long}b`));
});

test('label values: valid values kept, others shortened with a hash', () => {
  assert.equal(labelValue('node-a.example'), 'node-a.example');
  const long = 'x'.repeat(80);
  const v = labelValue(long);
  assert.ok(v.length <= 63);
  assert.notEqual(labelValue(`${long}1`), labelValue(`${long}2`));
  fc.assert(
    fc.property(fc.string({ maxLength: 120 }), (s) => {
      assert.match(labelValue(s), /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/);
    }),
  );
});

test('runner pod: pinned to its node, never restarted, deadline = duration + grace, tolerates every taint', () => {
  const pod = buildRunnerPod(job('node-a'), config);
  assert.equal(pod.spec?.nodeName, 'node-a');
  assert.equal(pod.spec?.restartPolicy, 'Never');
  assert.equal(pod.spec?.activeDeadlineSeconds, 30 + config.graceSeconds);
  assert.deepEqual(pod.spec?.tolerations, [{ operator: 'Exists' }]);
  assert.equal(pod.spec?.hostPID, true);
  assert.equal(pod.metadata?.namespace, 'tracejob-runners');
  assert.equal(pod.metadata?.labels?.['app.kubernetes.io/managed-by'], 'tracejob');
  assert.equal(pod.metadata?.labels?.['tracejob.dev/trace-id'], 'tr_01HZX3ABCDEF');
  assert.equal(pod.metadata?.labels?.['tracejob.dev/node'], 'node-a');
  assert.equal(pod.metadata?.annotations?.['tracejob.dev/node'], 'node-a');
  assert.deepEqual(buildRunnerPod(job('node-a'), config), pod, 'pure: same inputs, same pod');
});

test('runner pod: least privileges — listed capabilities only, everything else dropped, no token, read-only root', () => {
  const pod = buildRunnerPod(job('node-a'), config);
  const c = pod.spec!.containers[0]!;
  assert.equal(c.securityContext?.privileged, false);
  assert.deepEqual(c.securityContext?.capabilities, { drop: ['ALL'], add: ['BPF', 'PERFMON', 'SYS_ADMIN'] });
  assert.equal(c.securityContext?.readOnlyRootFilesystem, true);
  assert.equal(pod.spec?.automountServiceAccountToken, false);
  assert.equal(pod.spec?.serviceAccountName, 'tracejob-runner');
  assert.ok(c.resources?.limits?.cpu && c.resources.limits.memory && c.resources.requests?.cpu && c.resources.requests.memory);
  const privileged = buildRunnerPod(job('node-a'), { ...config, privileged: true }).spec!.containers[0]!;
  assert.equal(privileged.securityContext?.privileged, true);
  assert.equal(privileged.securityContext?.capabilities, undefined);
});

test('runner pod: a profile runner also gets SYS_PTRACE (other processes\' /proc maps) and SYSLOG (kallsyms), and only it', () => {
  const profile = buildRunnerPod({ ...job('node-a'), gadget: 'profile' }, config).spec!.containers[0]!;
  assert.deepEqual(profile.securityContext?.capabilities, { drop: ['ALL'], add: ['BPF', 'PERFMON', 'SYS_ADMIN', 'SYS_PTRACE', 'SYSLOG'] });
  for (const gadget of ['exec', 'open', 'bind', 'tcpconnect', 'signal', 'oomkill'] as const) {
    const c = buildRunnerPod({ ...job('node-a'), gadget }, config).spec!.containers[0]!;
    assert.ok(!c.securityContext?.capabilities?.add?.includes('SYS_PTRACE'), gadget);
  }
});

test('runner pod: CAP_SYS_RESOURCE only for kernels before 5.11 (memlock-charged BPF maps), or as configured', () => {
  const caps = (kernel: string | undefined, sysResource: RunnerPodConfig['sysResource'] = 'auto') =>
    buildRunnerPod(job('node-a'), { ...config, sysResource }, undefined, kernel).spec!.containers[0]!.securityContext?.capabilities?.add;
  assert.deepEqual(caps('5.10.0-28-amd64'), ['BPF', 'PERFMON', 'SYS_RESOURCE', 'SYS_ADMIN']);
  assert.deepEqual(caps('4.19.0-26-amd64'), ['BPF', 'PERFMON', 'SYS_RESOURCE', 'SYS_ADMIN']);
  assert.deepEqual(caps('5.11.0'), ['BPF', 'PERFMON', 'SYS_ADMIN']);
  assert.deepEqual(caps('6.18.0'), ['BPF', 'PERFMON', 'SYS_ADMIN']);
  assert.deepEqual(caps(undefined), ['BPF', 'PERFMON', 'SYS_ADMIN'], 'unknown kernel: not added');
  assert.deepEqual(caps('6.18.0', 'always'), ['BPF', 'PERFMON', 'SYS_RESOURCE', 'SYS_ADMIN']);
  assert.deepEqual(caps('5.4.0', 'never'), ['BPF', 'PERFMON', 'SYS_ADMIN']);
});

test('runner pod: the spec and upload token come only from the Secret file, never env/args/annotations', () => {
  const j = job('node-a');
  const pod = buildRunnerPod(j, config);
  const c = pod.spec!.containers[0]!;
  const visible = JSON.stringify({ env: c.env, args: c.args, command: c.command, meta: pod.metadata });
  assert.ok(!visible.includes('secret-upload-token'));
  assert.ok(!visible.includes('"containerId"'));
  assert.deepEqual(c.args, ['--spec', '/var/run/tracejob/spec.json', '--out', '/var/run/tracejob-out', '--cgroup-root', '/host/sys/fs/cgroup']);
  const specVolume = pod.spec!.volumes!.find((v) => v.name === 'spec')!;
  assert.equal(specVolume.secret?.secretName, runnerSecretName(j.traceId));
  assert.deepEqual(specVolume.secret?.items, [{ key: specKey('node-a'), path: 'spec.json' }]);
  const { secrets, secretOf } = buildRunnerSecrets([j, job('node-b')], 'tracejob-runners');
  assert.equal(secrets.length, 1);
  const secret = secrets[0]!;
  assert.deepEqual(JSON.parse(secret.stringData![specKey('node-a')]!), j);
  assert.equal(Object.keys(secret.stringData!).length, 2);
  assert.equal(secret.metadata?.name, runnerSecretName(j.traceId));
  assert.equal(secretOf.get('node-b'), runnerSecretName(j.traceId));
  assert.throws(() => buildRunnerSecrets([j, job('node-b', 'other')], 'ns'), /two traces/);
});

test('Secrets: many nodes spill into further Secrets under the size budget, deterministically', () => {
  const jobs = Array.from({ length: 50 }, (_, i) => job(`node-${String(i).padStart(2, '0')}`));
  const one = Buffer.byteLength(JSON.stringify(jobs[0])) + specKey('node-00').length;
  const { secrets, secretOf } = buildRunnerSecrets(jobs, 'ns', one * 20 + 10);
  assert.equal(secrets.length, 3);
  assert.deepEqual(secrets.map((s) => Object.keys(s.stringData!).length), [20, 20, 10]);
  assert.equal(secretOf.get('node-00'), runnerSecretName(jobs[0]!.traceId, 0));
  assert.equal(secretOf.get('node-45'), runnerSecretName(jobs[0]!.traceId, 2));
  assert.deepEqual(buildRunnerSecrets(jobs, 'ns', one * 20 + 10), { secrets, secretOf });
  const pod = buildRunnerPod(jobs[45]!, config, secretOf.get('node-45'));
  assert.equal(pod.spec!.volumes!.find((v) => v.name === 'spec')!.secret!.secretName, secretOf.get('node-45'));
  assert.throws(() => buildRunnerSecrets(jobs, 'ns', 100), /node-00 is \d+ bytes, over the 100-byte Secret budget/);
});

test('runner pod: host cgroupfs read-only, bpffs and tracefs mounted; output on an emptyDir', () => {
  const pod = buildRunnerPod(job('node-a'), config);
  const volumes = new Map(pod.spec!.volumes!.map((v) => [v.name, v]));
  const mounts = new Map(pod.spec!.containers[0]!.volumeMounts!.map((m) => [m.name, m]));
  assert.equal(volumes.get('host-cgroup')?.hostPath?.path, '/sys/fs/cgroup');
  assert.equal(mounts.get('host-cgroup')?.mountPath, '/host/sys/fs/cgroup');
  assert.equal(mounts.get('host-cgroup')?.readOnly, true);
  assert.equal(volumes.get('bpffs')?.hostPath?.path, '/sys/fs/bpf');
  assert.equal(volumes.get('tracefs')?.hostPath?.path, '/sys/kernel/tracing');
  assert.ok(volumes.get('out')?.emptyDir);
  assert.equal(mounts.get('out')?.mountPath, '/var/run/tracejob-out');
  assert.equal(mounts.get('spec')?.readOnly, true);
});

test('runner pod: image and pull policy from configuration; bad inputs are refused by name', () => {
  const pod = buildRunnerPod(job('node-a'), { ...config, imagePullPolicy: 'Always', image: 'x/y:z' });
  assert.equal(pod.spec!.containers[0]!.image, 'x/y:z');
  assert.equal(pod.spec!.containers[0]!.imagePullPolicy, 'Always');
  assert.throws(() => buildRunnerPod(job('node-a'), { ...config, image: '' }), /config\.image/);
  assert.throws(() => buildRunnerPod({ ...job('node-a'), durationSeconds: 0 }, config), /durationSeconds/);
});

test('selectors: one trace, or every runner object', () => {
  assert.equal(runnerSelector(), 'app.kubernetes.io/managed-by=tracejob,app.kubernetes.io/component=runner');
  assert.equal(runnerSelector('t1'), 'app.kubernetes.io/managed-by=tracejob,app.kubernetes.io/component=runner,tracejob.dev/trace-id=t1');
});
