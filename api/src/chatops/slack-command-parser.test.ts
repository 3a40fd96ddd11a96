import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSlackCommand, slackHelp } from './slack-command-parser.ts';

const ID = '3f2a1c4e-1b2c-4d5e-8f90-0123456789ab';

test('the issue example: /trace exec ns=shop app=web 30s', () => {
  assert.deepEqual(parseSlackCommand('exec ns=shop app=web 30s'), {
    kind: 'run',
    gadget: 'exec',
    target: { namespace: 'shop', labelSelector: 'app=web' },
    durationSeconds: 30,
    params: {},
  });
});

test('every target and option form', () => {
  assert.deepEqual(
    parseSlackCommand('  run open -n shop -l app=web,tier!=db pod=web-1 container=app node=node-a 2m param pathPrefix=/etc param failedOnly=true max-events=500  '),
    {
      kind: 'run',
      gadget: 'open',
      target: { namespace: 'shop', labelSelector: 'app=web,tier!=db', podName: 'web-1', containerName: 'app', nodeName: 'node-a' },
      durationSeconds: 120,
      params: { pathPrefix: '/etc', failedOnly: true },
      maxEvents: 500,
    },
  );
  assert.deepEqual(parseSlackCommand('bind namespace=shop app.kubernetes.io/name=web tier!=db -d 1m30s'), {
    kind: 'run',
    gadget: 'bind',
    target: { namespace: 'shop', labelSelector: 'app.kubernetes.io/name=web,tier!=db' },
    durationSeconds: 90,
    params: {},
  });
  assert.deepEqual(parseSlackCommand('exec ns=shop'), { kind: 'run', gadget: 'exec', target: { namespace: 'shop' }, params: {} });
  assert.deepEqual(parseSlackCommand('exec cgroup=/tj/a cgroup=b pid=42 5s'), { kind: 'run', gadget: 'exec', target: { cgroupPaths: ['/tj/a', 'b'], pids: [42] }, durationSeconds: 5, params: {} });
});

test('help, status and cancel', () => {
  for (const t of ['', 'help', '  help  ', '--help']) assert.deepEqual(parseSlackCommand(t), { kind: 'help' });
  assert.deepEqual(parseSlackCommand(`status ${ID}`), { kind: 'status', id: ID });
  assert.deepEqual(parseSlackCommand(`CANCEL ${ID.toUpperCase()}`), { kind: 'cancel', id: ID });
  assert.match(slackHelp('/tj'), /`\/tj exec ns=shop app=web 30s`/);
});

test('each mistake gets a reply that says what is wrong and how to get help', () => {
  const cases: [string, RegExp][] = [
    ['frobnicate ns=shop', /I don't know the gadget `frobnicate`. Gadgets: `exec`, `open`/],
    ['run', /`run` needs a gadget/],
    ['status', /`status` needs a trace id: `\/trace status <trace-id>`/],
    ['cancel abc', /`abc` is not a trace id/],
    [`status ${ID} extra`, /takes one trace id, got 2 words/],
    ['exec', /say what to trace, e.g. `\/trace exec ns=shop app=web 30s`/],
    ['exec app=web 30s', /name the namespace: `ns=<namespace>`/],
    ['exec ns=Shop', /`Shop` is not a namespace name/],
    ['exec ns=shop ns=other', /`ns` is given twice/],
    ['exec ns=shop 30s 1m', /the duration is given twice/],
    ['exec ns=shop 30', /say the unit of the duration, e.g. `30s`/],
    ['exec ns=shop -d soon', /`soon` is not a duration/],
    ['exec ns=shop 0s', /more than 0 seconds/],
    ['exec ns=shop param', /`param` needs a value after it/],
    ['exec ns=shop param novalue', /`param` needs `key=value`/],
    ['exec ns=shop param a-b=1', /param name `a-b`/],
    ['exec ns=shop pod=Bad_Pod', /`Bad_Pod` is not a pod name/],
    ['exec ns=shop container=A', /`A` is not a container name/],
    ['exec ns=shop node=-x', /`-x` is not a node name/],
    ['exec ns=shop max-events=0', /event cap is a whole number/],
    ['exec ns=shop pod=', /`pod=` needs a value/],
    ['exec ns=shop whatever', /I don't understand `whatever`/],
    ['exec ns=shop app=we$b', /neither an option nor a label/],
    ['exec ns=shop -l', /`-l` needs a value/],
    ['exec ns=shop -l a;b', /not a label selector/],
    ['exec ns=shop cgroup=/a', /do not mix/],
    ['exec cgroup=../etc', /must not contain `..`/],
    ['exec pid=abc', /a pid is a whole number/],
  ];
  for (const [text, re] of cases) {
    const out = parseSlackCommand(text);
    assert.equal(out.kind, 'invalid', text);
    if (out.kind !== 'invalid') continue;
    assert.match(out.reply, re, text);
    assert.match(out.reply, /Try `\/trace help`\.$/, text);
  }
});
