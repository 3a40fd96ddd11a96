/**
 * The /ui page in headless Chromium (Debian's chromium driven by playwright-core) against a real
 * all-in-one server: start a trace from the page, watch it finish live, see its summary, chart and
 * events. A screenshot is saved under test-artifacts/ (not committed).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { chromiumSkipReason, launchHeadlessChromium, pageCollectingErrors } from './headless-chromium.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';
import { REPO_ROOT, startTracejobServer, type TracejobServer } from '../cli/tracejob-server.ts';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const skip = kernelTestSkipReason() ?? chromiumSkipReason();

let server: TracejobServer | undefined;
let browser: Browser | undefined;
let cgroup: TestCgroup | undefined;

before(async () => {
  if (skip) return;
  server = await startTracejobServer();
  cgroup = createTestCgroup(uniqueCgroupPath('ui'));
  cgroup.spawn('/bin/sh', ['-c', 'while :; do /bin/true; sleep 0.1; done']);
  browser = await launchHeadlessChromium();
});

after(async () => {
  await browser?.close();
  await cgroup?.destroy();
  await server?.close();
});

test('start a trace on the page, watch it finish, see its summary', { skip }, async () => {
  const { page, errors: consoleErrors } = await pageCollectingErrors(browser!, { width: 1280, height: 1400 });

  await page.goto(`${server!.url}/ui`);
  await page.waitForSelector('#gadget option[value="exec"]', { state: 'attached' });
  await page.selectOption('#gadget', 'exec');
  await page.fill('input[name="cgroupPath"]', cgroup!.relPath);
  await page.fill('input[name="durationSeconds"]', '3');
  await page.click('button[type="submit"]');

  await page.waitForURL(/\/ui\/trace\.html\?id=[0-9a-f-]{36}$/);
  const id = new URL(page.url()).searchParams.get('id')!;
  assert.equal(await page.textContent('#trace-id'), id);
  // Live: the page shows the trace before it ends, then its end without a reload.
  await page.waitForSelector('#status [data-status="queued"], #status [data-status="running"]', { timeout: 10_000 });
  await page.waitForSelector('body[data-finished]', { timeout: 60_000 });
  assert.equal(await page.getAttribute('body', 'data-finished'), 'succeeded');
  assert.equal(await page.textContent('#status [data-status]'), 'succeeded');

  // Per-node status.
  const nodeRow = page.locator('#nodes tr[data-node="cli-test-node"]');
  assert.equal(await nodeRow.locator('[data-status]').textContent(), 'succeeded');
  const nodeEvents = Number(await nodeRow.locator('td.num').first().textContent());
  assert.ok(nodeEvents > 0, 'the node saw events');

  // Summary: top commands include the workload's /bin/true.
  const topComm = page.locator('[data-top-field="comm"] tbody tr');
  await topComm.first().waitFor();
  const comms = await topComm.locator('td.mono').allTextContents();
  assert.ok(comms.includes('true'), `top comm: ${comms.join(', ')}`);
  assert.match((await page.textContent('#summary-counts')) ?? '', new RegExp(`^${nodeEvents} events, 0 lost`));

  // Events over time, and the events table with search.
  await page.waitForSelector('#chart svg rect');
  assert.ok((await page.locator('#chart svg rect').count()) > 0);
  await page.waitForSelector('#events tbody tr');
  assert.match((await page.textContent('#events-count')) ?? '', new RegExp(`^${nodeEvents} of ${nodeEvents} events`));
  await page.fill('#search', 'no-such-command-anywhere');
  assert.match((await page.textContent('#events-count')) ?? '', new RegExp(`^0 of ${nodeEvents} events`));
  await page.fill('#search', 'true');
  const matching = Number(/^(\d+) of/.exec((await page.textContent('#events-count')) ?? '')?.[1]);
  assert.ok(matching > 0 && matching <= nodeEvents);

  // The bundle link downloads the bundle.
  const href = await page.getAttribute('#bundle', 'href');
  assert.equal(new URL(href!, page.url()).pathname, `/v1/traces/${id}/bundle`);
  const download = await Promise.all([page.waitForEvent('download'), page.click('#bundle')]).then(([d]) => d);
  assert.equal(download.suggestedFilename(), `trace-${id}.tar.gz`);

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.fill('#search', '');
  await page.screenshot({ path: join(ARTIFACTS, 'ui-trace.png'), fullPage: true });

  // The list shows the trace and its status.
  await page.goto(`${server!.url}/ui/`);
  const row = page.locator(`#traces tr[data-id="${id}"]`);
  await row.waitFor();
  assert.equal(await row.locator('[data-status]').textContent(), 'succeeded');
  await page.screenshot({ path: join(ARTIFACTS, 'ui-list.png'), fullPage: true });
  assert.deepEqual(consoleErrors, []);
});

test('an unknown trace says so on its page', { skip }, async () => {
  const page = await browser!.newPage();
  await page.goto(`${server!.url}/ui/trace.html?id=00000000-0000-4000-8000-000000000000`);
  await page.locator('#error', { hasText: /no trace/ }).waitFor({ timeout: 10_000 });
  assert.match((await page.textContent('#error')) ?? '', /no trace 0{8}-/);
});
