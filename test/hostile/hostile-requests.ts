/**
 * fast-check arbitraries of hostile requests for every route of the API: random JSON, wrong
 * types, huge strings, unicode, negative and huge numbers, label-selector injections, path
 * traversal in ids and params (`../`, `%2e%2e`, encoded slashes), malformed tar/gzip uploads and
 * bad Authorization headers.
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';

export interface HostileRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS';
  url: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** What the generator meant, for failure messages. */
  kind: string;
}

export interface HostileContext {
  /** Ids of existing traces (queued or cancelled). */
  traceIds: readonly string[];
  /** Ids of traces that have ended (safe to watch: the stream closes). */
  endedTraceIds: readonly string[];
  goodToken: string;
  /** Upload token for (traceIds[0], node). */
  uploadToken: { traceId: string; node: string; token: string };
  /** A valid result archive for that node. */
  validArchive: Buffer;
  /** A target the app accepts (namespace on kubernetes, this process's pid on local). */
  validTarget: Record<string, unknown>;
  /** Ids of existing schedules (a visible one and one of another namespace). */
  scheduleIds?: readonly string[];
}

/** encodeURIComponent that survives lone surrogates (they become U+FFFD). */
function enc(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '\ufffd'));
  }
}

const TRAVERSAL = [
  '../', '..', '../../etc/passwd', '..%2f..%2fetc%2fpasswd', '%2e%2e', '%2e%2e%2f', '%2E%2E/%2E%2E/', '..%5c..%5c', '....//', '%252e%252e%252f',
  '.%2e/', '%c0%ae%c0%ae/', '%2f', '%5c', '..\\..\\windows', '/etc/passwd', '%00', 'a%00b', '%0d%0aX-Injected:%201', '~root', '.', './', '%2F%2F',
];
const INJECTION = [
  "'; DROP TABLE traces; --", '$(reboot)', '`id`', '${jndi:ldap://x/a}', '{{7*7}}', '<script>alert(1)</script>', 'app=web;rm -rf /', 'app in (a,b))',
  'app=web,tier notin (', '!', '=', ',,,', 'a'.repeat(70) + '=b', 'app=web\nx=y', 'app=web\u0000', 'app=\u202eevil', 'app==web', 'app!=', 'x in ()',
  '*', '*=*', 'app=web OR 1=1', 'eval(process.exit(1))', '__proto__', 'constructor', '\ud800', '\uffff', '😀'.repeat(300),
];

const hugeString = fc.constantFrom('a'.repeat(70_000), 'é'.repeat(40_000), '😀'.repeat(20_000), '0'.repeat(10_000), '../'.repeat(5_000));
const weirdString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 3, arbitrary: fc.constantFrom(...TRAVERSAL, ...INJECTION) },
  { weight: 1, arbitrary: hugeString },
);
const weirdNumber = fc.oneof(
  fc.integer(),
  fc.constantFrom(-1, 0, 1, 2 ** 31, 2 ** 53 + 1, -(2 ** 63), 1e308, -1e308, 1e-308, 0.5, 4_194_305, 86_401, Number.MAX_SAFE_INTEGER),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
/** Any JSON value, including the odd ones. */
const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: weirdString },
  { weight: 2, arbitrary: weirdNumber },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [], {}, [[[[]]]], { '': '' }) },
);

const gadget = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('exec', 'open', 'bind', 'tcpconnect', 'signal', 'oomkill') }, { weight: 1, arbitrary: anyJson });
const target = fc.oneof(
  fc.record({ namespace: fc.oneof(fc.constantFrom('shop', 'kube-system'), anyJson), labelSelector: fc.oneof(fc.constantFrom(...INJECTION), weirdString, anyJson) }, { requiredKeys: [] }),
  fc.record({ namespace: fc.constant('shop'), podName: weirdString, containerName: weirdString, nodeName: weirdString }, { requiredKeys: ['namespace'] }),
  fc.record({ containerIds: fc.array(weirdString, { maxLength: 3 }), pids: fc.array(weirdNumber, { maxLength: 3 }), cgroupPaths: fc.array(fc.oneof(fc.constantFrom(...TRAVERSAL), weirdString), { maxLength: 3 }) }, { requiredKeys: [] }),
  anyJson,
);
const params = fc.oneof(
  fc.dictionary(fc.oneof(fc.constantFrom('comm', 'filename', 'failedOnly', 'ports', 'signal', '__proto__', 'constructor'), fc.string({ maxLength: 8 })), anyJson, { maxKeys: 4 }),
  anyJson,
);

/** Trace requests: mostly near-valid with one thing wrong, some pure noise. */
const traceBody = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record(
      {
        gadget,
        durationSeconds: fc.oneof(fc.integer({ min: 1, max: 600 }), weirdNumber, anyJson),
        target,
        params,
        limits: fc.oneof(fc.record({ maxEvents: fc.oneof(weirdNumber, anyJson) }), anyJson),
        callbackUrl: fc.oneof(fc.constantFrom('https://169.254.169.254/', 'http://127.0.0.1:6379/', 'javascript:alert(1)', 'https://user:pw@example.com/', 'file:///etc/passwd'), weirdString),
        image: fc.constantFrom('evil:latest'),
      },
      { requiredKeys: [] },
    ).map((o) => JSON.stringify(o)),
  },
  { weight: 2, arbitrary: anyJson.map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 1, arbitrary: weirdString },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{"gadget":"exec","target":{"namespace":"shop"},"__proto__":{"admin":true}}',
      '{"gadget":"exec","target":{"namespace":"shop","constructor":{"prototype":{"x":1}}}}',
      '[' .repeat(5000) + ']'.repeat(5000),
      '{"a":'.repeat(2000) + '1' + '}'.repeat(2000),
      '{"gadget":"exec"',
      '\u0000\u0001\u0002',
      '{"gadget":"exec","durationSeconds":1e999,"target":{"namespace":"shop"}}',
      JSON.stringify({ gadget: 'exec', target: { namespace: 'shop', labelSelector: 'a=b,'.repeat(300) } }),
    ),
  },
);

/** Schedule requests: a trace body (often valid), timing fields with odd values. */
function scheduleBody(ctx: HostileContext): fc.Arbitrary<string> {
  const validTrace = { gadget: 'exec', durationSeconds: 5, target: ctx.validTarget };
  const timing = fc.record(
    {
      every: fc.oneof(fc.constantFrom('1h', '30s', '0s', '1s', '-1m', '999999d', '1h30m', '1w', ''), weirdString, anyJson),
      cron: fc.oneof(fc.constantFrom('* * * * *', '*/5 * * * *', '*/1 * * * * *', '61 * * * *', '@yearly', '0 0 31 2 *', 'L W # ?', '* * * *'), weirdString, anyJson),
      timeZone: fc.oneof(fc.constantFrom('Europe/Paris', 'UTC', 'Mars/Olympus', '../../etc/localtime', '+25:00', ''), weirdString, anyJson),
      keepRuns: fc.oneof(fc.integer({ min: -5, max: 2000 }), weirdNumber, anyJson),
    },
    { requiredKeys: [] },
  );
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom('1h', '2h', '1d').map((every) => JSON.stringify({ trace: validTrace, every })) },
    { weight: 4, arbitrary: timing.map((t) => JSON.stringify({ trace: validTrace, ...t })) },
    { weight: 3, arbitrary: fc.tuple(traceBody, timing).map(([body, t]) => `{"trace":${body},"every":${JSON.stringify(t.every ?? '1h')}}`) },
    { weight: 1, arbitrary: traceBody },
  );
}

/** Alertmanager webhook payloads: version 4 with odd alerts, odd labels, and noise. */
const alertLabels = fc.oneof(
  fc.record(
    {
      alertname: fc.oneof(fc.constantFrom('HighLatency', 'KubePodCrashLooping'), weirdString),
      namespace: fc.oneof(fc.constantFrom('shop', 'kube-system', 'Shop', ''), weirdString, fc.constantFrom(...INJECTION)),
      pod: fc.oneof(fc.constantFrom('web-1', '../../x'), weirdString),
      container: weirdString,
      node: weirdString,
    },
    { requiredKeys: [] },
  ),
  fc.dictionary(weirdString.map((k) => k.slice(0, 300)), weirdString, { maxKeys: 5 }),
  anyJson,
);
const webhookAlert = fc.record(
  {
    status: fc.oneof(fc.constantFrom('firing', 'resolved'), anyJson),
    labels: alertLabels,
    annotations: fc.oneof(fc.dictionary(fc.string({ maxLength: 10 }), weirdString, { maxKeys: 3 }), anyJson),
    startsAt: fc.oneof(fc.constantFrom('2026-12-01T00:00:00Z', 'yesterday'), weirdString),
    fingerprint: fc.oneof(fc.constantFrom('0123456789abcdef', 'deadbeef', 'XYZ', ''), weirdString, anyJson),
  },
  { requiredKeys: [] },
);
const alertmanagerBody = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record({ version: fc.oneof(fc.constant('4'), anyJson), status: fc.constantFrom('firing', 'resolved'), receiver: fc.constant('tracejob'), alerts: fc.array(webhookAlert, { maxLength: 4 }) }, { requiredKeys: ['alerts'] })
      .map((o) => JSON.stringify(o)),
  },
  { weight: 1, arbitrary: anyJson.map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 1, arbitrary: fc.constantFrom(JSON.stringify({ version: '4', status: 'firing', receiver: 'x', alerts: Array.from({ length: 1001 }, () => ({})) }), '{"version":"4","alerts":[' + '{},'.repeat(3000) + '{}]}') },
);

/** A path segment: valid-looking, traversal, encoded, or noise (always URL-safe when encoded). */
function idSegment(ctx: HostileContext): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...ctx.traceIds) },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 3, arbitrary: fc.constantFrom(...TRAVERSAL) },
    { weight: 2, arbitrary: weirdString.map((s) => enc(s.slice(0, 2000)).replace(/%25/g, '%')) },
    { weight: 1, arbitrary: weirdString.map((s) => enc(s.slice(0, 300))) },
  );
}

const queryValue = fc.oneof(weirdString, weirdNumber.map(String), fc.constantFrom('', '-1', '0', '1e309', 'NaN', 'true', '[]', '{}', 'queued', 'exec', 'json', 'svg', 'folded'));
const query = fc
  .array(fc.tuple(fc.oneof(fc.constantFrom('limit', 'cursor', 'status', 'gadget', 'node', 'pod', 'container', 'format', 'comm', 'since', 'until', 'field', 'path', 'pid', 'timestamp', 'seq', '__proto__', 'limit[]'), weirdString), queryValue), { maxLength: 4 })
  .map((pairs) => (pairs.length ? '?' + pairs.map(([k, v]) => `${enc(k.slice(0, 200))}=${enc(v.slice(0, 3000))}`).join('&') : ''));

function authHeader(ctx: HostileContext): fc.Arbitrary<Record<string, string>> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant({ authorization: `Bearer ${ctx.goodToken}` }) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc.constantFrom('', 'Bearer', 'Bearer ', 'bearer x', 'Basic YWRtaW46YWRtaW4=', `Bearer ${ctx.goodToken}x`, `Bearer  ${ctx.goodToken}`, `Token ${ctx.goodToken}`, 'Bearer ' + 'A'.repeat(9000), 'Bearer a.b.c', `Bearer ${ctx.uploadToken.token}`),
          fc.string({ maxLength: 60 }).map((s) => 'Bearer ' + s.replace(/[^\x20-\x7e]/g, '')),
        )
        .map((v) => ({ authorization: v })),
    },
    { weight: 1, arbitrary: fc.constant({}) },
  );
}

const contentType = fc.constantFrom('application/json', 'application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/gzip', 'application/json; charset=utf-16', '');

async function archiveVariants(ctx: HostileContext): Promise<Buffer[]> {
  const valid = ctx.validArchive;
  const { pack } = await import('tar-stream');
  const tar = async (entries: { name: string; body?: string; type?: 'file' | 'symlink' | 'directory'; linkname?: string }[]) => {
    const p = pack();
    const chunks: Buffer[] = [];
    p.on('data', (c: unknown) => chunks.push(c as Buffer));
    const done = new Promise<void>((r) => p.on('end', () => r()));
    for (const e of entries) {
      if (e.type === 'symlink') p.entry({ name: e.name, type: 'symlink', linkname: e.linkname ?? '/etc/passwd' });
      else if (e.type === 'directory') p.entry({ name: e.name, type: 'directory' });
      else p.entry({ name: e.name }, e.body ?? '');
    }
    p.finalize();
    await done;
    return Buffer.concat(chunks);
  };
  const summary = '{"events":1,"lostEvents":0}';
  return [
    Buffer.alloc(0),
    Buffer.from('not a gzip'),
    valid.subarray(0, Math.floor(valid.length / 2)),
    Buffer.concat([valid, Buffer.from('trailing garbage')]),
    gzipSync(Buffer.from('plain text, not a tar')),
    gzipSync(await tar([{ name: '../../../../tmp/evil', body: 'x' }, { name: 'summary.json', body: summary }])),
    gzipSync(await tar([{ name: 'events.ndjson', type: 'symlink', linkname: '/etc/shadow' }, { name: 'summary.json', body: summary }])),
    gzipSync(await tar([{ name: 'events.ndjson', body: '{}' }, { name: 'events.ndjson', body: '{}' }, { name: 'summary.json', body: summary }])),
    gzipSync(await tar([{ name: 'events.ndjson', body: '{}\n' }, { name: 'summary.json', body: '{"events":-1,"lostEvents":"x"}' }])),
    gzipSync(await tar([{ name: 'events.ndjson', body: '{}\n' }, { name: 'summary.json', body: 'not json' }])),
    gzipSync(await tar([{ name: 'events.ndjson', body: '{}\n' }])),
    gzipSync(await tar([{ name: 'dir/', type: 'directory' }])),
    gzipSync(await tar([{ name: 'events.ndjson', body: '\0'.repeat(3 * 1024 * 1024) }, { name: 'summary.json', body: summary }])), // a small gzip that expands a lot
    gzipSync(Buffer.alloc(2 * 1024 * 1024)),
    Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0xff, 0xff, 0xff]),
    valid,
  ];
}

/** Every route, hostile variants of each. */
export async function hostileRequests(ctx: HostileContext): Promise<fc.Arbitrary<HostileRequest>> {
  const archives = await archiveVariants(ctx);
  const id = idSegment(ctx);
  const auth = authHeader(ctx);
  const json = (hdrs: Record<string, string>, ct: string) => ({ ...hdrs, ...(ct ? { 'content-type': ct } : {}) });
  const node = fc.oneof(fc.constant(ctx.uploadToken.node), fc.constantFrom(...TRAVERSAL), weirdString.map((s) => enc(s.slice(0, 300))));
  const uploadAuth = fc.oneof(
    fc.constant({ authorization: `Bearer ${ctx.uploadToken.token}` }),
    fc.constant({ authorization: `Bearer ${ctx.goodToken}` }),
    authHeader(ctx),
  );
  const uploadHeaders = fc.record({ 'upload-id': weirdString.map((s) => s.replace(/[^\x21-\x7e]/g, '').slice(0, 300)), 'x-content-sha256': fc.constantFrom('0'.repeat(64), 'zz', '') }, { requiredKeys: [] });

  // A valid request with exactly one field replaced by something odd (or removed).
  const paths = ['gadget', 'durationSeconds', 'target', 'params', 'limits', 'limits.maxEvents', 'callbackUrl', 'target.namespace', 'target.labelSelector', 'target.podName', 'target.nodeName', 'target.pids', 'target.cgroupPaths', 'target.containerIds', 'params.comm', 'params.failedOnly'];
  const oneWrong = fc
    .tuple(fc.constantFrom(...paths), fc.option(fc.oneof(anyJson, fc.constantFrom(...INJECTION), fc.constantFrom(...TRAVERSAL)), { nil: undefined, freq: 8 }), fc.integer({ min: 1, max: 60 }))
    .map(([path, value, duration]) => {
      const body: Record<string, unknown> = { gadget: 'exec', durationSeconds: duration, target: { ...ctx.validTarget }, params: {}, limits: { maxEvents: 100 } };
      const [head, leaf] = path.split('.') as [string, string | undefined];
      const holder = leaf === undefined ? body : ((body[head] && typeof body[head] === 'object' ? body[head] : (body[head] = {})) as Record<string, unknown>);
      const key = leaf ?? head;
      if (value === undefined) delete holder[key];
      else holder[key] = value;
      return JSON.stringify(body);
    });
  const valid = fc.constant(JSON.stringify({ gadget: 'exec', durationSeconds: 5, target: ctx.validTarget }));
  // Range / If-Range / If-None-Match of downloads: valid, malformed, huge, several ranges.
  const rangeValue = fc.oneof(
    fc.tuple(fc.nat(), fc.option(fc.nat(), { nil: undefined })).map(([a, b]) => `bytes=${a}-${b ?? ''}`),
    fc.nat().map((n) => `bytes=-${n}`),
    fc.constantFrom('bytes=0-1,5-9', 'bytes=', 'bytes=-', 'bytes=9-1', 'items=0-1', 'bytes=99999999999999999999999-', 'bytes=-0', 'bytes=1e3-', 'bytes=0x10-'),
    weirdString,
  );
  const rangeHeaders = fc.record(
    { range: rangeValue.map((v) => v.replace(/[^\x20-\x7e]/g, '')), 'if-range': fc.oneof(fc.constant('"x"'), weirdString.map((v) => v.replace(/[^\x20-\x7e]/g, ''))), 'if-none-match': fc.constant('"x"') },
    { requiredKeys: [] },
  );
  // A runner's progress report with each field valid, odd or missing.
  const progressBody = fc
    .record(
      {
        tracingSince: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), weirdString, anyJson),
        events: fc.oneof(fc.nat(), fc.integer(), anyJson),
        lostEvents: fc.oneof(fc.nat(), fc.double(), anyJson),
      },
      { requiredKeys: [] },
    )
    .map((b) => JSON.stringify(b));

  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(auth, oneWrong).map(([h, body]): HostileRequest => ({ kind: 'create-one-wrong', method: 'POST', url: '/v1/traces', headers: { ...h, 'content-type': 'application/json' }, body })) },
    { weight: 1, arbitrary: fc.tuple(auth, valid).map(([h, body]): HostileRequest => ({ kind: 'create-valid', method: 'POST', url: '/v1/traces', headers: { ...h, 'content-type': 'application/json' }, body })) },
    { weight: 6, arbitrary: fc.tuple(auth, contentType, traceBody).map(([h, ct, body]): HostileRequest => ({ kind: 'create', method: 'POST', url: '/v1/traces', headers: json(h, ct), body })) },
    { weight: 2, arbitrary: fc.tuple(auth, query).map(([h, q]): HostileRequest => ({ kind: 'list', method: 'GET', url: `/v1/traces${q}`, headers: h })) },
    { weight: 2, arbitrary: fc.tuple(auth, id, query).map(([h, i, q]): HostileRequest => ({ kind: 'get', method: 'GET', url: `/v1/traces/${i}${q}`, headers: h })) },
    { weight: 2, arbitrary: fc.tuple(auth, id, query).map(([h, i, q]): HostileRequest => ({ kind: 'events', method: 'GET', url: `/v1/traces/${i}/events${q}`, headers: h })) },
    { weight: 2, arbitrary: fc.tuple(auth, id, query).map(([h, i, q]): HostileRequest => ({ kind: 'top', method: 'GET', url: `/v1/traces/${i}/top${q}`, headers: h })) },
    { weight: 1, arbitrary: fc.tuple(auth, id).map(([h, i]): HostileRequest => ({ kind: 'bundle', method: 'GET', url: `/v1/traces/${i}/bundle`, headers: h })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(auth, id, fc.oneof(fc.constant(ctx.uploadToken.node), node), rangeHeaders)
        .map(([h, i, n, r]): HostileRequest => ({ kind: 'node-events', method: 'GET', url: `/v1/traces/${i}/nodes/${n}/events`, headers: { ...h, ...r } })),
    },
    { weight: 1, arbitrary: fc.tuple(auth, id, rangeHeaders).map(([h, i, r]): HostileRequest => ({ kind: 'bundle-range', method: 'GET', url: `/v1/traces/${i}/bundle`, headers: { ...h, ...r } })) },
    { weight: 2, arbitrary: fc.tuple(auth, id, query).map(([h, i, q]): HostileRequest => ({ kind: 'profile', method: 'GET', url: `/v1/traces/${i}/profile${q}`, headers: h })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(auth, fc.oneof(fc.constantFrom(...ctx.endedTraceIds), fc.constantFrom(...TRAVERSAL), fc.uuid()))
        .map(([h, i]): HostileRequest => ({ kind: 'watch', method: 'GET', url: `/v1/traces/${i}/watch`, headers: h })),
    },
    { weight: 1, arbitrary: fc.tuple(auth, id).map(([h, i]): HostileRequest => ({ kind: 'delete', method: 'DELETE', url: `/v1/traces/${i}`, headers: h })) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(uploadAuth, uploadHeaders, fc.oneof(fc.constant(ctx.uploadToken.traceId), id), node, fc.constantFrom(...archives), fc.constantFrom('application/gzip', 'application/octet-stream', 'application/json', 'text/plain'))
        .map(([h, extra, i, n, body, ct]): HostileRequest => ({ kind: 'upload', method: 'PUT', url: `/v1/traces/${i}/nodes/${n}/result`, headers: { ...h, ...extra, 'content-type': ct }, body })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(uploadAuth, fc.oneof(fc.constant(ctx.uploadToken.traceId), id), node, fc.oneof(progressBody, traceBody), contentType)
        .map(([h, i, n, body, ct]): HostileRequest => ({ kind: 'progress', method: 'PUT', url: `/v1/traces/${i}/nodes/${n}/progress`, headers: json(h, ct), body })),
    },
    { weight: 3, arbitrary: fc.tuple(auth, contentType, scheduleBody(ctx)).map(([h, ct, body]): HostileRequest => ({ kind: 'schedule-create', method: 'POST', url: '/v1/schedules', headers: json(h, ct), body })) },
    { weight: 1, arbitrary: fc.tuple(auth, query).map(([h, q]): HostileRequest => ({ kind: 'schedule-list', method: 'GET', url: `/v1/schedules${q}`, headers: h })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(auth, fc.oneof(fc.constantFrom(...(ctx.scheduleIds ?? [])), id), fc.constantFrom<HostileRequest['method']>('GET', 'DELETE'))
        .map(([h, i, m]): HostileRequest => ({ kind: 'schedule-one', method: m, url: `/v1/schedules/${i}`, headers: h })),
    },
    { weight: 3, arbitrary: fc.tuple(auth, contentType, alertmanagerBody).map(([h, ct, body]): HostileRequest => ({ kind: 'alertmanager', method: 'POST', url: '/v1/hooks/alertmanager', headers: json(h, ct), body })) },
    { weight: 1, arbitrary: fc.tuple(auth, query).map(([h, q]): HostileRequest => ({ kind: 'gadgets', method: 'GET', url: `/v1/gadgets${q}`, headers: h })) },
    { weight: 1, arbitrary: fc.constantFrom('/healthz', '/readyz', '/metrics', '/docs/json').map((u): HostileRequest => ({ kind: 'ops', method: 'GET', url: u, headers: {} })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(auth, fc.constantFrom<HostileRequest['method']>('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'), fc.array(fc.oneof(fc.constantFrom(...TRAVERSAL), id), { minLength: 1, maxLength: 5 }), fc.option(traceBody, { nil: undefined }))
        .map(([h, m, segs, body]): HostileRequest => ({ kind: 'random-route', method: m, url: `/v1/${segs.join('/')}`, headers: body === undefined ? h : json(h, 'application/json'), ...(body === undefined || m === 'GET' ? {} : { body }) })),
    },
  );
}
