/**
 * /events filters and /top, answered from the columnar copy written at upload (filesystem store,
 * real Redis, real DuckDB): every filter, cursor paging across nodes, exact nanosecond timestamps
 * in both JSON forms, the counts and scan paths of /top agreeing, and a 400 naming the field for
 * every bad parameter.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startAppFixture, type AppFixture } from '../../../test/support/app-fixture.ts';
import { createOpenTrace, ndjson, openEvents, resultArchive, uploadToken } from '../../../test/support/node-results.ts';

let fx: AppFixture;
let id: string;
const A = openEvents(300, { node: 'node-a', pods: ['web-1', 'web-2'], timestampAs: 'string' });
const B = openEvents(200, { node: 'node-b', pods: ['api-1'], start: 1_764_600_000_000_000_001n });

async function upload(traceId: string, node: string, body: Buffer) {
  return fx.app.inject({
    method: 'PUT',
    url: `/v1/traces/${traceId}/nodes/${node}/result`,
    payload: body,
    headers: { 'content-type': 'application/gzip', authorization: `Bearer ${uploadToken(fx.config.uploadTokenSecret, traceId, node)}` },
  });
}

async function page(query: string): Promise<{ items: Record<string, unknown>[]; nextCursor?: string }> {
  const res = await fx.app.inject({ url: `/v1/traces/${id}/events?${query}` });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

async function all(query: string, limit = 70): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let cursor: string | undefined;
  do {
    const p = await page(`${query}&limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    out.push(...p.items);
    cursor = p.nextCursor;
  } while (cursor);
  return out;
}

before(async () => {
  fx = await startAppFixture({ MAX_RESULT_BYTES: String(64 * 1024 * 1024) });
  id = await createOpenTrace(fx.traces);
  assert.equal((await upload(id, 'node-a', await resultArchive(id, 'node-a', A))).statusCode, 201);
  assert.equal((await upload(id, 'node-b', await resultArchive(id, 'node-b', B))).statusCode, 201);
});
after(async () => {
  await fx?.close();
});

describe('GET /v1/traces/:id/events from the columnar copy', () => {
  test('pages walk every event of every node once, in order, and give back what was uploaded', async () => {
    // container=app matches every event: the pages come from the columnar copy.
    const got = await all('container=app');
    assert.equal(got.length, 500);
    assert.deepEqual(await all(''), got, 'unfiltered pages (read from the NDJSON) are the same events');
    const expected = ndjson([...A, ...B]).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(got, expected);
    const raw = await fx.app.inject({ url: `/v1/traces/${id}/events?limit=500&container=app` });
    const digits = [...raw.body.matchAll(/"timestamp":"?(\d+)"?/g)].map((m) => m[1]);
    const uploaded = [...ndjson([...A, ...B]).matchAll(/"timestamp":"?(\d+)"?/g)].map((m) => m[1]);
    assert.deepEqual(digits, uploaded, 'every nanosecond kept exactly, in both JSON forms');
    assert.match(raw.body, /"timestamp":"1764600000000000000"/, 'node-a wrote strings: pages give strings');
    assert.match(raw.body, /"timestamp":1764600000000000001[,}]/, 'node-b wrote numbers: pages give numbers with every digit');
  });

  test('filters: node, pod, container, comm, any gadget field, booleans, integers, and a time range', async () => {
    assert.equal((await all('node=node-b')).length, 200);
    assert.deepEqual(new Set((await all('pod=web-2')).map((e) => e.pod)), new Set(['web-2']));
    assert.equal((await all('pod=web-2')).length, 150);
    assert.equal((await all('container=app&node=node-a')).length, 300);
    assert.equal((await all('comm=nginx')).length, 100 + 67);
    assert.equal((await all('path=/etc/file-3&pod=api-1')).length, 50);
    assert.equal((await all('error=ENOENT')).length, 60 + 40);
    assert.equal((await all('ret=-2')).length, 100);
    assert.equal((await all('pathTruncated=false')).length, 500);
    assert.equal((await all('pathTruncated=true')).length, 0);
    assert.equal((await all('pod=nobody')).length, 0);
    // node-a: t0 + i·1000; node-b: t0 + 1 + i·1000. [t0+10000, t0+20000) holds i = 10…19 of a and 10…19 of b.
    const inRange = await all('since=1764600000000010000&until=1764600000000020000');
    assert.equal(inRange.length, 20);
    const rawB = await fx.app.inject({ url: `/v1/traces/${id}/events?limit=2&node=node-b&since=1764600000000010000` });
    assert.deepEqual([...rawB.body.matchAll(/"timestamp":(\d+)/g)].map((m) => m[1]), ['1764600000000010001', '1764600000000011001'], 'the range compares exact ns');
    assert.equal((await all('since=2025-12-01T14:40:00.000010Z&until=2025-12-01T14:40:00.000020Z')).length, 20, 'ISO 8601 with µs');
  });

  test('the NDJSON stream takes the same filters', async () => {
    const res = await fx.app.inject({ url: `/v1/traces/${id}/events?pod=web-1&error=ENOENT` });
    assert.equal(res.headers['content-type'], 'application/x-ndjson');
    const lines = res.body.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 30);
    assert.ok(lines.every((e) => e.pod === 'web-1' && e.error === 'ENOENT'));
    const whole = await fx.app.inject({ url: `/v1/traces/${id}/events` });
    assert.equal(whole.body, ndjson([...A, ...B]), 'unfiltered: the NDJSON as uploaded, byte for byte');
  });

  test('bad parameters are 400 naming the field', async () => {
    const cases: [string, string][] = [
      ['nosuch=1', 'nosuch'],
      ['pid=abc', 'pid'],
      ['pid=99999999999999999999', 'pid'],
      ['cgroupId=-1', 'cgroupId'],
      ['pathTruncated=yes', 'pathTruncated'],
      ['since=yesterday', 'since'],
      ['since=1764600000000020000&until=1764600000000010000', 'until'],
      ['limit=0', 'limit'],
      ['limit=10&cursor=bm90LWEtY3Vyc29y', 'cursor'],
      ['node=../x', 'node'],
    ];
    for (const [query, field] of cases) {
      const res = await fx.app.inject({ url: `/v1/traces/${id}/events?${query}` });
      assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
      assert.equal(res.json().field, field, `${query}: ${res.body}`);
      assert.equal(res.json().error, 'invalid');
    }
  });
});

describe('GET /v1/traces/:id/top', () => {
  async function top(query: string) {
    const res = await fx.app.inject({ url: `/v1/traces/${id}/top?${query}` });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as { field: string; items: { value: unknown; count: number }[] };
  }

  test('counts of any field, over all events or one pod, from the counts and from a scan alike', async () => {
    assert.deepEqual((await top('field=comm')).items, [
      { value: 'cat', count: 100 + 67 },
      { value: 'nginx', count: 100 + 67 },
      { value: 'sh', count: 100 + 66 },
    ]);
    assert.deepEqual((await top('field=path&pod=api-1&limit=2')).items, [
      { value: '/etc/file-0', count: 50 },
      { value: '/etc/file-1', count: 50 },
    ]);
    assert.deepEqual((await top('field=ret')).items, [
      { value: 3, count: 400 },
      { value: -2, count: 100 },
    ]);
    // A time range is not pre-counted: the same answer comes from a scan of the column.
    const counted = await top('field=pod');
    const scanned = await top('field=pod&since=0');
    assert.deepEqual(scanned, counted);
    assert.deepEqual(counted.items, [
      { value: 'api-1', count: 200 },
      { value: 'web-1', count: 150 },
      { value: 'web-2', count: 150 },
    ]);
    assert.deepEqual((await top('field=error&node=node-b')).items, [{ value: 'ENOENT', count: 40 }], 'events without the field are not counted');
    const ts = await fx.app.inject({ url: `/v1/traces/${id}/top?field=timestamp&limit=1&node=node-b` });
    assert.match(ts.body, /"value":1764600000000000001,"count":1/, 'a 64-bit value keeps every digit');
  });

  test('bad parameters are 400 naming the field; an unknown trace is 404', async () => {
    for (const [query, field] of [
      ['', 'field'],
      ['field=nosuch', 'field'],
      ['field=comm&limit=0', 'limit'],
      ['field=comm&pid=x', 'pid'],
      ['field=comm&other=1', 'other'],
    ] as const) {
      const res = await fx.app.inject({ url: `/v1/traces/${id}/top?${query}` });
      assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
      assert.equal(res.json().field, field, `${query}: ${res.body}`);
    }
    const missing = await fx.app.inject({ url: '/v1/traces/00000000-0000-4000-8000-000000000000/top?field=comm' });
    assert.equal(missing.statusCode, 404);
  });
});

describe('ingest', () => {
  test('a half line left by a killed runner is skipped; the rest is queryable', async () => {
    const traceId = await createOpenTrace(fx.traces);
    const text = ndjson(openEvents(10, { node: 'node-c' })) + '{"gadget":"open","timestamp":17646';
    assert.equal((await upload(traceId, 'node-c', await resultArchive(traceId, 'node-c', text, 10))).statusCode, 201);
    const res = await fx.app.inject({ url: `/v1/traces/${traceId}/events?limit=100&comm=cat` });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().items.length, 4);
  });

  test('blank lines, a line of spaces and one that is not an event in the middle: pages are still exactly the matching events', async () => {
    const events = openEvents(600, { node: 'node-e' });
    const lines = ndjson(events).trim().split('\n');
    const expected = ndjson(events.filter((e) => e.comm === 'cat')).trim().split('\n').map((l) => JSON.parse(l) as unknown);
    assert.ok(expected.length > 100, 'matches in several blocks of lines');
    for (const [extra, viaLines] of [
      ['\n\n', true],
      ['\n   \nnot an event\n', false],
    ] as const) {
      const traceId = await createOpenTrace(fx.traces);
      const text = [...lines.slice(0, 300), extra, ...lines.slice(300)].join('\n') + '\n';
      assert.equal((await upload(traceId, 'node-e', await resultArchive(traceId, 'node-e', text, 600))).statusCode, 201);
      // Row numbers name lines only while every non-empty line is a row; else pages come from the Parquet.
      assert.equal((await fx.results.columnar(traceId, 'node-e'))?.layout.lineOffsets, viaLines);
      const got: unknown[] = [];
      let cursor: string | undefined;
      do {
        const res = await fx.app.inject({ url: `/v1/traces/${traceId}/events?comm=cat&limit=37${cursor ? `&cursor=${cursor}` : ''}` });
        assert.equal(res.statusCode, 200, res.body);
        const p = res.json() as { items: unknown[]; nextCursor?: string };
        got.push(...p.items);
        cursor = p.nextCursor;
      } while (cursor);
      assert.deepEqual(got, expected, `extra ${JSON.stringify(extra)}`);
    }
  });

  test('a second upload of a node replaces the first, columnar copy included', async () => {
    const traceId = await createOpenTrace(fx.traces);
    await upload(traceId, 'node-d', await resultArchive(traceId, 'node-d', openEvents(10, { node: 'node-d' })));
    await upload(traceId, 'node-d', await resultArchive(traceId, 'node-d', openEvents(3, { node: 'node-d', pods: ['new-pod'] })));
    const res = await fx.app.inject({ url: `/v1/traces/${traceId}/top?field=pod` });
    assert.deepEqual(res.json().items, [{ value: 'new-pod', count: 3 }]);
  });
});
