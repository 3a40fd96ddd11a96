/**
 * ProgressReporter against a real HTTP server on loopback: it PUTs the progress with the token,
 * reports a cancel from the answer, never has two reports in flight, and says once when reports
 * start failing (the trace goes on regardless).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ProgressReporter } from './progress-reporter.ts';

async function serve(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => handler(req, body, res));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1/traces/t/nodes/n/progress`, close: () => new Promise((r) => server.close(() => r())) };
}

const progress = { tracingSince: '2026-12-01T10:00:00.000Z', events: 3, lostEvents: 1 };

test('sends the progress with the bearer token and hears a cancel in the answer', async (t) => {
  const seen: { auth?: string; body: unknown }[] = [];
  let cancel = false;
  const api = await serve((req, body, res) => {
    seen.push({ auth: req.headers.authorization, body: JSON.parse(body) });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ cancelRequested: cancel }));
  });
  t.after(() => api.close());
  let cancels = 0;
  const reporter = new ProgressReporter({ url: api.url, token: 'tok', onCancelRequested: () => (cancels += 1) });
  await reporter.report(progress);
  assert.deepEqual(seen, [{ auth: 'Bearer tok', body: progress }]);
  assert.equal(cancels, 0);
  cancel = true;
  await reporter.report({ ...progress, events: 9 });
  assert.equal(cancels, 1);
});

test('never two reports in flight: a report asked for while one is pending is folded into it', async (t) => {
  let arrived = 0;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const api = await serve((_req, _body, res) => {
    arrived += 1;
    void gate.then(() => res.end('{"cancelRequested":false}'));
  });
  t.after(() => api.close());
  const reporter = new ProgressReporter({ url: api.url, token: 'tok', onCancelRequested: () => undefined });
  const first = reporter.report(progress);
  const second = reporter.report({ ...progress, events: 4 });
  assert.equal(first, second, 'the second call waits on the first');
  release();
  await reporter.settle();
  assert.equal(arrived, 1);
});

test('failing reports are said once until one succeeds again', async (t) => {
  let status = 503;
  const api = await serve((_req, _body, res) => {
    res.statusCode = status;
    res.end(status === 200 ? '{"cancelRequested":false}' : 'store down');
  });
  t.after(() => api.close());
  const failures: string[] = [];
  const reporter = new ProgressReporter({ url: api.url, token: 'tok', onCancelRequested: () => undefined, onFailure: (r) => failures.push(r) });
  await reporter.report(progress);
  await reporter.report(progress);
  assert.deepEqual(failures, ['HTTP 503: store down']);
  status = 200;
  await reporter.report(progress);
  status = 503;
  await reporter.report(progress);
  assert.equal(failures.length, 2, 'a new run of failures is said again');
  await api.close();
  await reporter.report(progress);
  assert.equal(failures.length, 2, 'still the same run of failures (now a refused connection)');
});
