#!/usr/bin/env node
// TEST DOUBLE of tracejob-runner, used by scheduler tests only while the real runner
// (bin/tracejob-runner.js) is not in the tree. Same contract: --spec FILE --out DIR; writes one
// event every 50 ms to events.ndjson until the deadline, SIGTERM (reason signal) or SIGUSR1
// (reason cancelled); then uploads a tar.gz with events.ndjson + summary.json and exits 0.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';

const args = process.argv.slice(2);
const spec = JSON.parse(readFileSync(args[args.indexOf('--spec') + 1], 'utf8'));
const out = args[args.indexOf('--out') + 1];
const eventsFile = join(out, 'events.ndjson');
writeFileSync(eventsFile, '');
const startedAt = new Date().toISOString();
let events = 0;
let stopReason;
const timer = setInterval(() => {
  events += 1;
  appendFileSync(eventsFile, JSON.stringify({ timestamp: Date.now() * 1e6, pid: process.pid, tid: process.pid, uid: 0, comm: 'double', cgroupId: 1, node: spec.node, gadget: spec.gadget, filename: '/bin/true' }) + '\n');
  if (events >= spec.maxEvents) stop('max-events');
}, 50);
const deadline = setTimeout(() => stop('deadline'), spec.durationSeconds * 1000);
process.on('SIGTERM', () => stop('signal'));
process.on('SIGUSR1', () => stop('cancelled'));

async function stop(reason) {
  if (stopReason) return;
  stopReason = reason;
  clearInterval(timer);
  clearTimeout(deadline);
  const summary = { traceId: spec.traceId, node: spec.node, gadget: spec.gadget, startedAt, stoppedAt: new Date().toISOString(), stopReason: reason, events, lostEvents: 0, truncated: false, perContainer: [], top: { comm: [{ value: 'double', count: events }] }, targetsNotFound: [], cgroupIds: [1] };
  writeFileSync(join(out, 'summary.json'), JSON.stringify(summary));
  const pack = tarPack();
  const chunks = [];
  pack.on('data', (c) => chunks.push(c));
  const ended = new Promise((r) => pack.on('end', r));
  pack.entry({ name: 'events.ndjson' }, readFileSync(eventsFile));
  pack.entry({ name: 'summary.json' }, JSON.stringify(summary));
  pack.finalize();
  await ended;
  const body = gzipSync(Buffer.concat(chunks));
  for (let attempt = 0; attempt < 5; attempt += 1) {
    try {
      const res = await fetch(spec.upload.url, { method: 'PUT', body, headers: { authorization: `Bearer ${spec.upload.token}`, 'content-type': 'application/gzip' } });
      if (res.ok) process.exit(0);
      appendFileSync(join(out, 'upload.log'), `${res.status} ${await res.text()}\n`);
      if (res.status < 500) process.exit(3);
    } catch (err) {
      appendFileSync(join(out, 'upload.log'), `${err.message}\n`);
    }
    await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
  }
  process.exit(3);
}
