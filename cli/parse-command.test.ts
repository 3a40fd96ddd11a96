import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatSeconds } from '../contracts/index.ts';
import { DEFAULT_SERVER, parseCommandLine, parseParam, UsageError } from './parse-command.ts';

const ID = '3f2a1c4e-1b2c-4d5e-8f90-0123456789ab';

test('run with a Kubernetes target, duration, params and --wait', () => {
  const { command, connection } = parseCommandLine(
    ['run', 'exec', '-n', 'shop', '-l', 'app=web', '--pod', 'web-1', '--container', 'app', '--node', 'n1', '-d', '2m', '--param', 'ignoreFailed=true', '--param', 'minPid=5', '--param', 'name=x=y', '--max-events', '100', '--wait'],
    {},
  );
  assert.deepEqual(command, {
    kind: 'run',
    gadget: 'exec',
    target: { namespace: 'shop', labelSelector: 'app=web', podName: 'web-1', containerName: 'app', nodeName: 'n1' },
    durationSeconds: 120,
    params: { ignoreFailed: true, minPid: 5, name: 'x=y' },
    maxEvents: 100,
    wait: true,
    output: 'table',
  });
  assert.deepEqual(connection, { server: DEFAULT_SERVER });
});

test('run with local targets: repeated --cgroup and --pid', () => {
  const { command } = parseCommandLine(['run', 'open', '--cgroup', '/a', '--cgroup', 'b/c', '--pid', '42', '-d', '5']);
  assert.equal(command.kind, 'run');
  if (command.kind !== 'run') return;
  assert.deepEqual(command.target, { cgroupPaths: ['/a', 'b/c'], pids: [42] });
  assert.equal(command.durationSeconds, 5);
  assert.equal(command.wait, false);
});

test('server and token come from flags first, then the environment', () => {
  const env = { TRACEJOB_SERVER: 'http://api:9000/', TRACEJOB_TOKEN: 'envtok' };
  assert.deepEqual(parseCommandLine(['ls'], env).connection, { server: 'http://api:9000', token: 'envtok' });
  assert.deepEqual(parseCommandLine(['ls', '--server', 'https://x', '--token', 't'], env).connection, { server: 'https://x', token: 't' });
});

test('every id command takes exactly one UUID', () => {
  for (const sub of ['get', 'events', 'cancel', 'delete']) {
    assert.equal(parseCommandLine([sub, ID]).command.kind, sub);
    assert.throws(() => parseCommandLine([sub]), (e: Error) => e instanceof UsageError && e.message.includes('missing the trace id'));
    assert.throws(() => parseCommandLine([sub, 'abc']), /not a trace id/);
    assert.throws(() => parseCommandLine([sub, ID, ID]), /one trace id expected/);
  }
  assert.deepEqual(parseCommandLine(['events', ID, '--follow', '-o', 'json']).command, { kind: 'events', id: ID, follow: true, output: 'json' });
  assert.deepEqual(parseCommandLine(['bundle', ID, '-o', 'out.tgz']).command, { kind: 'bundle', id: ID, file: 'out.tgz' });
});

test('usage errors name what is wrong', () => {
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /unknown command "frobnicate"/],
    [['run'], /missing the gadget/],
    [['run', 'exec'], /name a target/],
    [['run', 'exec', '-l', 'app=web'], /-n NAMESPACE is required/],
    [['run', 'exec', '-n', 'x', '--cgroup', '/a'], /do not mix/],
    [['run', 'exec', '-n', 'x', '-d', '30x'], /-d: "30x" is not a duration like 30s, 2m/],
    [['run', 'exec', '-n', 'x', '-d', '0s'], /more than 0/],
    [['run', 'exec', '-n', 'x', '--param', 'novalue'], /key=value/],
    [['run', 'exec', '-n', 'x', '--max-events', '0'], /--max-events must be a whole number/],
    [['run', 'exec', '-n', 'x', '--pid', 'abc'], /--pid must be a whole number/],
    [['run', 'exec', '-n', 'x', '--bogus'], /run: Unknown option '--bogus'/],
    [['bundle', ID], /-o FILE is required/],
    [['get', ID, '-o', 'yaml'], /-o must be json or table/],
    [['ls', '--limit', 'x'], /--limit/],
    [['ls', 'extra'], /unexpected argument/],
    [['ls', '--server', 'ftp://x'], /--server must be an http/],
  ];
  for (const [argv, re] of cases) assert.throws(() => parseCommandLine(argv), (e: Error) => e instanceof UsageError && re.test(e.message), argv.join(' '));
});

test('help forms', () => {
  assert.equal(parseCommandLine([]).command.kind, 'help');
  assert.equal(parseCommandLine(['--help']).command.kind, 'help');
  assert.deepEqual(parseCommandLine(['run', '--help']).command, { kind: 'help', topic: 'run' });
});

test('durations and params', () => {
  const durationOf = (d: string) => {
    const { command } = parseCommandLine(['run', 'open', '--cgroup', '/a', '-d', d]);
    return command.kind === 'run' ? command.durationSeconds : undefined;
  };
  assert.equal(durationOf('30s'), 30);
  assert.equal(durationOf('1m30s'), 90);
  assert.equal(durationOf('1h'), 3600);
  assert.equal(durationOf('45'), 45);
  // The API takes whole seconds: the CLI refuses what it would have to round.
  for (const bad of ['1.5m', '500ms', '0s']) assert.throws(() => durationOf(bad), (e: Error) => e instanceof UsageError && /-d: /.test(e.message), bad);
  assert.equal(formatSeconds(75), '1m15s');
  assert.equal(formatSeconds(3600), '1h');
  assert.deepEqual(parseParam('a=-3'), ['a', -3]);
  assert.deepEqual(parseParam('a='), ['a', '']);
  assert.throws(() => parseParam('=v'), /key=value/);
  assert.throws(() => parseParam('a-b=1'), /letters, digits/);
});

test('run --startup [--startup-timeout] asks for the next container start', () => {
  const { command } = parseCommandLine(['run', 'exec', '-n', 'shop', '--pod', 'web-1', '--startup', '--startup-timeout', '10m']);
  assert.equal(command.kind, 'run');
  if (command.kind !== 'run') return;
  assert.deepEqual(command.target, { namespace: 'shop', podName: 'web-1', startup: true, startupTimeoutSeconds: 600 });
  assert.throws(() => parseCommandLine(['run', 'exec', '-n', 'shop', '--startup-timeout', '1m']), /--startup-timeout goes with --startup/);
});

test('schedule create|ls|get|rm', () => {
  const every = parseCommandLine(['schedule', 'create', 'tcpconnect', '-n', 'shop', '-l', 'app=web', '-d', '30s', '--every', '1h', '--keep-runs', '5']).command;
  assert.deepEqual(every, {
    kind: 'schedule-create',
    trace: { gadget: 'tcpconnect', target: { namespace: 'shop', labelSelector: 'app=web' }, durationSeconds: 30, params: {} },
    every: '1h',
    keepRuns: 5,
    output: 'table',
  });
  const cron = parseCommandLine(['schedule', 'create', 'exec', '--cgroup', 'app', '--cron', '*/5 * * * *', '--tz', 'Europe/Paris', '-o', 'json']).command;
  assert.deepEqual(cron, { kind: 'schedule-create', trace: { gadget: 'exec', target: { cgroupPaths: ['app'] }, params: {} }, cron: '*/5 * * * *', timeZone: 'Europe/Paris', output: 'json' });
  assert.deepEqual(parseCommandLine(['schedule', 'ls', '-o', 'json']).command, { kind: 'schedule-ls', output: 'json' });
  assert.deepEqual(parseCommandLine(['schedule', 'get', ID]).command, { kind: 'schedule-get', id: ID, output: 'table' });
  assert.deepEqual(parseCommandLine(['schedule', 'rm', ID]).command, { kind: 'schedule-rm', id: ID });
  for (const [argv, message] of [
    [['schedule'], /schedule: missing/],
    [['schedule', 'pause', ID], /unknown action "pause"/],
    [['schedule', 'create', 'exec', '-n', 'shop'], /give --every INTERVAL or --cron PATTERN/],
    [['schedule', 'create', 'exec', '-n', 'shop', '--every', '1h', '--cron', '* * * * *'], /give --every INTERVAL or --cron PATTERN/],
    [['schedule', 'create', 'exec', '-n', 'shop', '--every', '1h', '--tz', 'UTC'], /--tz goes with --cron/],
    [['schedule', 'rm', 'nope'], /is not a schedule id/],
  ] as const) {
    assert.throws(() => parseCommandLine([...argv]), (err: unknown) => err instanceof UsageError && message.test(err.message), argv.join(' '));
  }
});
