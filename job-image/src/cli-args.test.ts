import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRunnerCommand, parseParams, UsageError, type RunnerInputs } from './cli-args.ts';

function parse(argv: string[], extra: Partial<RunnerInputs> = {}) {
  return parseRunnerCommand({ argv, env: {}, readFile: () => { throw new Error('ENOENT: no such file'); }, stderrIsTTY: false, ...extra });
}

function run(argv: string[], extra: Partial<RunnerInputs> = {}) {
  const cmd = parse(argv, extra);
  assert.equal(cmd.kind, 'run');
  return cmd as Extract<typeof cmd, { kind: 'run' }>;
}

test('durations on the runner line: units, fractions and ms; a bad one names its flag', () => {
  for (const [text, seconds] of [['10', 10], ['1m30s', 90], ['500ms', 0.5], ['1.5s', 1.5]] as const) {
    assert.equal(run(['--gadget', 'exec', '--duration', text, '--cgroup', 'a']).spec.durationSeconds, seconds, text);
  }
  for (const bad of ['', '0', '-1', 'ten', '5x', '0s']) {
    assert.throws(() => parse(['--gadget', 'exec', `--duration=${bad}`, '--cgroup', 'a']), /--duration: .*duration/, bad);
  }
});

test('flags alone make a full node job with every kind of target', () => {
  const { spec, options } = run([
    '--gadget', 'exec', '--duration', '1m', '--cgroup', 'a/b', '--cgroup', '/sys/fs/cgroup/x', '--pid', '42',
    '--container-id', 'containerd://abc', '--pod-uid', 'u-1', '--param', 'failedOnly=true', '--param', 'comm=sh',
    '--max-events', '500', '--max-bytes', '1048576', '--node', 'n1', '--trace-id', 't1', '--out', '/tmp/o',
    '--upload-url', 'http://api:8080/v1/upload/t1/n1', '--upload-token', 'tok', '--cgroup-root', '/host/sys/fs/cgroup',
  ]);
  assert.deepEqual(spec, {
    traceId: 't1',
    node: 'n1',
    gadget: 'exec',
    params: { failedOnly: true, comm: 'sh' },
    durationSeconds: 60,
    maxEvents: 500,
    maxResultBytes: 1048576,
    targets: { cgroupPaths: ['a/b', '/sys/fs/cgroup/x'], pids: [42], containers: [{ containerId: 'containerd://abc' }], pods: [{ podUid: 'u-1' }] },
    upload: { url: 'http://api:8080/v1/upload/t1/n1', token: 'tok' },
  });
  assert.equal(options.outDir, '/tmp/o');
  assert.equal(options.cgroupRoot, '/host/sys/fs/cgroup');
  assert.equal(options.rescanIntervalMs, 1000);
  assert.equal(options.progress, false);
});

test('a spec from --spec or TRACEJOB_NODE_JOB is the base; flags override it', () => {
  const json = JSON.stringify({ traceId: 't9', node: 'node-a', gadget: 'open', params: {}, durationSeconds: 30, maxEvents: 10, targets: { pods: [{ podUid: 'p', namespace: 'shop', pod: 'web' }] } });
  const fromFile = run(['--spec', 'job.json', '--duration', '5s'], { readFile: (p) => (p === 'job.json' ? json : '') });
  assert.equal(fromFile.spec.gadget, 'open');
  assert.equal(fromFile.spec.durationSeconds, 5);
  assert.deepEqual(fromFile.spec.targets.pods, [{ podUid: 'p', namespace: 'shop', pod: 'web' }]);
  const fromEnv = run(['--max-events', '3'], { env: { TRACEJOB_NODE_JOB: json, TRACEJOB_UPLOAD_TOKEN: 'x' } });
  assert.equal(fromEnv.spec.traceId, 't9');
  assert.equal(fromEnv.spec.maxEvents, 3);
  assert.equal(fromEnv.spec.upload, undefined);
});

test('usage errors name what is wrong', () => {
  const cases: [string[], RegExp, Partial<RunnerInputs>?][] = [
    [['--duration', '1', '--all'], /--gadget is required/],
    [['--gadget', 'exec', '--all'], /--duration is required/],
    [['--gadget', 'exec', '--duration', '1'], /no target/],
    [['--gadget', 'ls', '--duration', '1', '--all'], /gadget: must be one of exec/],
    [['--gadget', 'exec', '--duration', '1', '--all', '--max-events', '0'], /--max-events must be a positive integer/],
    [['--gadget', 'exec', '--duration', '1', '--all', '--pid', 'abc'], /--pid must be a positive integer/],
    [['--gadget', 'exec', '--duration', '1', '--all', '--param', 'novalue'], /--param must be key=value/],
    [['--gadget', 'exec', '--duration', '1', '--all', '--upload-url', 'http://x/'], /--upload-url needs --upload-token/],
    [['--gadget', 'exec', '--duration', '1', '--all', '--upload-url', 'ftp://x/', '--upload-token', 't'], /upload\.url: must be an http\(s\) URL/],
    [['--gadget', 'exec', '--duration', '1', '--all', '--bogus'], /Unknown option '--bogus'/],
    [['--spec', 'missing.json'], /--spec missing\.json: ENOENT/],
    [['--spec', 'j'], /invalid node job spec: durationSeconds: must be a number/, { readFile: () => '{"traceId":"t","node":"n","gadget":"exec","durationSeconds":-1}' }],
    [['--spec', 'j'], /targets\.containers\[0\]\.containerId: is required/, { readFile: () => '{"traceId":"t","node":"n","gadget":"exec","durationSeconds":1,"targets":{"containers":[{}]}}' }],
    [['--spec', 'j'], /not valid JSON/, { readFile: () => '{' }],
    [[], /TRACEJOB_NODE_JOB is not valid JSON/, { env: { TRACEJOB_NODE_JOB: 'nope' } }],
  ];
  for (const [argv, message, extra] of cases) {
    assert.throws(() => parse(argv, extra), (err: Error) => err instanceof UsageError && message.test(err.message), `${argv.join(' ')} → ${message}`);
  }
});

test('--help prints the usage even with an incomplete job; progress defaults to on when stderr is a terminal', () => {
  assert.equal(parse(['--help']).kind, 'help');
  assert.equal(parse(['--gadget', 'exec', '--help']).kind, 'help', 'help even with an incomplete job');
  assert.equal(run(['--gadget', 'exec', '--duration', '1', '--all'], { stderrIsTTY: true }).options.progress, true);
  assert.equal(run(['--gadget', 'exec', '--duration', '1', '--all', '--progress']).options.progress, true);
});

test('params: JSON values where they parse, plain strings otherwise', () => {
  assert.deepEqual(parseParams(['port=8080', 'ok=false', 'path=/etc/passwd', 'list=[1,2]', 'eq=a=b']), {
    port: 8080,
    ok: false,
    path: '/etc/passwd',
    list: [1, 2],
    eq: 'a=b',
  });
});
