import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { slackSignature } from '../auth/slack-signature.ts';
import { buildUnreadyApp, type UnreadyApp } from '../../../test/support/app-fixture.ts';
import { startTestReceiver, type TestReceiver } from '../callbacks/test-receiver.ts';
import { loadSlackConfig } from './chatops-config.ts';
import slackChatops, { SLACK_PENDING_KEY } from './slack-plugin.ts';

const SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
let fx: UnreadyApp;
let receiver: TestReceiver;
let seq = 0;

before(async () => {
  fx = await buildUnreadyApp();
  receiver = await startTestReceiver([200]);
  const config = loadSlackConfig({
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_USERS: JSON.stringify({ 'T1/U1': { token: 'tok-alice', scopes: ['run', 'read', 'cancel'] }, U2: { token: 'tok-bob' } }),
    SLACK_RESPONSE_URL_HOSTS: '127.0.0.1',
    SLACK_RESPONSE_URL_ALLOW_HTTP: 'true',
  });
  await fx.app.register(slackChatops, { config, redis: fx.client, traces: fx.traces, results: fx.results, publicUrl: 'https://tracejob.example', pollMs: 50 });
  await fx.app.ready();
});

after(async () => {
  await receiver.close();
  await fx.close();
});

/** The form body Slack sends for a slash command. */
function slackForm(text: string, user = 'U1', team = 'T1'): string {
  seq += 1;
  return new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: team,
    team_domain: 'acme',
    channel_id: 'C1',
    channel_name: 'ops',
    user_id: user,
    user_name: 'alice',
    command: '/trace',
    text,
    api_app_id: 'A1',
    is_enterprise_install: 'false',
    response_url: `${receiver.url}/commands/T1/${seq}`,
    trigger_id: `1337.42.${seq}`,
  }).toString();
}

function post(body: string, opts: { secret?: string; timestamp?: number; signature?: string } = {}) {
  const ts = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
  return fx.app.inject({
    method: 'POST',
    url: '/v1/chatops/slack',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': ts,
      'x-slack-signature': opts.signature ?? slackSignature(opts.secret ?? SECRET, ts, body),
    },
    payload: body,
  });
}

async function say(text: string, user?: string, team?: string): Promise<{ response_type: string; text: string }> {
  const res = await post(slackForm(text, user, team));
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as { response_type: string; text: string };
}

test('a correctly signed request is answered; help lists the forms', async () => {
  const reply = await say('help');
  assert.equal(reply.response_type, 'ephemeral');
  assert.match(reply.text, /`\/trace exec ns=shop app=web 30s`/);
  assert.match(reply.text, /status <trace-id>/);
});

test('wrong secret, stale timestamp, replay, missing headers: 401 before anything else', async () => {
  const wrong = await post(slackForm('help'), { secret: 'not-the-secret-at-all-0000000000' });
  assert.equal(wrong.statusCode, 401);
  assert.match(wrong.json<{ message: string }>().message, /bad-signature/);

  const stale = await post(slackForm('help'), { timestamp: Math.floor(Date.now() / 1000) - 301 });
  assert.equal(stale.statusCode, 401);
  assert.match(stale.json<{ message: string }>().message, /5-minute window/);

  const future = await post(slackForm('help'), { timestamp: Math.floor(Date.now() / 1000) + 400 });
  assert.equal(future.statusCode, 401);

  const body = slackForm('help');
  const ts = Math.floor(Date.now() / 1000);
  assert.equal((await post(body, { timestamp: ts })).statusCode, 200);
  const replay = await post(body, { timestamp: ts });
  assert.equal(replay.statusCode, 401);
  assert.match(replay.json<{ message: string }>().message, /replay/);

  const tampered = slackForm('help');
  const sig = slackSignature(SECRET, String(ts), tampered);
  const res = await post(tampered.replace('text=help', 'text=cancel'), { timestamp: ts, signature: sig });
  assert.equal(res.statusCode, 401);

  const none = await fx.app.inject({ method: 'POST', url: '/v1/chatops/slack', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'text=help' });
  assert.equal(none.statusCode, 401);
});

test('a Slack user without a mapping gets a polite refusal; missing scopes are named', async () => {
  const stranger = await say('exec cgroup=/x 5s', 'U999');
  assert.match(stranger.text, /^Sorry <@U999>, you are not set up to use tracejob yet/);
  const otherTeam = await say('help', 'U1', 'T2');
  assert.match(otherTeam.text, /not set up/);
  const bob = await say('exec cgroup=/x 5s', 'U2');
  assert.match(bob.text, /does not allow `run` \(it needs the `run` scope; you have `read`\)/);
});

test('mistakes get a helpful reply, and so do the API refusals', async () => {
  assert.match((await say('exec app=web 30s')).text, /name the namespace/);
  // The test server runs the local backend: a Kubernetes target is refused by the API, and the reply says why.
  assert.match((await say('exec ns=shop app=web 30s')).text, /^I couldn't start the trace: target\.namespace: the local backend traces local targets/);
  assert.match((await say('status 3f2a1c4e-1b2c-4d5e-8f90-0123456789ab')).text, /I can't find that trace/);
});

test('run: immediate ack with the trace id; the summary goes to response_url when the trace ends', async () => {
  const started = Date.now();
  const ack = await say('exec cgroup=/tj-slack 30s param failedOnly=false');
  assert.ok(Date.now() - started < 3000, 'answered within Slack\'s 3 s');
  assert.equal(ack.response_type, 'ephemeral');
  const id = /trace `([0-9a-f-]{36})`/.exec(ack.text)?.[1];
  assert.ok(id, ack.text);
  assert.match(ack.text, /I'll post the summary here when it ends/);

  const status = await say(`status ${id}`);
  assert.match(status.text, new RegExp(`trace \`${id}\` is \\*queued\\*`));

  // The trace runs and ends: one node succeeded with a summary, one failed.
  await fx.traces.markRunning(id!);
  const dir = join(fx.dataDir, 'traces', id!, 'nodes', 'node-a');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'summary.json'),
    JSON.stringify({ traceId: id, node: 'node-a', gadget: 'exec', events: 42, lostEvents: 2, truncated: false, perContainer: [], top: { comm: [{ value: 'curl', count: 30 }, { value: 'sh', count: 12 }] }, targetsNotFound: [] }),
  );
  writeFileSync(join(dir, 'events.ndjson'), '');
  await fx.traces.setNodeStatus(id!, 'node-a', 'succeeded', { events: 42, lostEvents: 2 });
  await fx.traces.setNodeStatus(id!, 'node-b', 'failed', { error: 'pod unschedulable' });
  const before = receiver.requests.length;
  await fx.traces.finish(id!, 'partial');

  const reqs = await receiver.waitFor(before + 1);
  const follow = reqs.at(-1)!;
  assert.equal(follow.method, 'POST');
  assert.match(follow.path, /^\/commands\/T1\/\d+$/);
  const msg = JSON.parse(follow.body) as { response_type: string; text: string };
  assert.equal(msg.response_type, 'ephemeral');
  assert.match(msg.text, new RegExp(`trace \`${id}\` \\*partial\\*`));
  assert.match(msg.text, /\*42\* events, \*2\* lost/);
  assert.match(msg.text, /`node-a` succeeded — 42 events \(2 lost\)/);
  assert.match(msg.text, /`node-b` failed — 0 events \(error: pod unschedulable\)/);
  assert.match(msg.text, /\*Top comm\*\n• `curl` — 30\n• `sh` — 12/);
  assert.match(msg.text, new RegExp(`<https://tracejob.example/v1/traces/${id}/bundle\\|download the bundle>`));
  for (let i = 0; i < 50 && (await fx.client.zcard(SLACK_PENDING_KEY)) > 0; i += 1) await new Promise((r) => setTimeout(r, 20));
  assert.equal(await fx.client.zcard(SLACK_PENDING_KEY), 0, 'the delivered notice is removed');

  const ended = await say(`status ${id}`);
  assert.match(ended.text, /\*Top comm\*/);
  assert.match((await say(`cancel ${id}`)).text, /already ended \(\*partial\*\); nothing to cancel/);
});

test('cancel a queued trace', async () => {
  const ack = await say('open cgroup=/tj-slack 10s');
  const id = /trace `([0-9a-f-]{36})`/.exec(ack.text)![1]!;
  assert.match((await say(`cancel ${id}`)).text, /cancelled before it started/);
  assert.equal(await fx.traces.status(id), 'cancelled');
});
