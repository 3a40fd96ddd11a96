/**
 * The /ui trace page of a real profile trace in headless Chromium (Debian's chromium driven by
 * playwright-core) against a real all-in-one server: the interactive flame graph (d3-flame-graph
 * served from node_modules) shows burn_cpu, zooms on a click, highlights a search, and the page
 * lists the top functions. The CSP holds: no console error. Screenshot: test-artifacts/ui-profile.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { chromiumSkipReason, launchHeadlessChromium, pageCollectingErrors } from './headless-chromium.ts';
import { compileBurn, startInCgroup, type RunningWorkload } from '../../bpf/gadgets/profile/profile-test-workload.ts';
import { buildGadgetObject } from '../../bpf/src/gadget-test-fixture.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';
import { REPO_ROOT, startTracejobServer, type TracejobServer } from '../cli/tracejob-server.ts';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const skip = kernelTestSkipReason() ?? chromiumSkipReason();

let server: TracejobServer | undefined;
let browser: Browser | undefined;
let cgroup: TestCgroup | undefined;
let workload: RunningWorkload | undefined;
let dir: string | undefined;

before(async () => {
  if (skip) return;
  buildGadgetObject('profile');
  dir = mkdtempSync(join(tmpdir(), 'tracejob-ui-profile-'));
  const burn = compileBurn(join(dir, 'burn'));
  server = await startTracejobServer();
  cgroup = createTestCgroup(uniqueCgroupPath('ui-profile'));
  workload = await startInCgroup(cgroup, burn, ['120', 'burn']);
  browser = await launchHeadlessChromium();
});

after(async () => {
  await browser?.close();
  workload?.child.kill('SIGKILL');
  await cgroup?.destroy();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a profile trace page shows an interactive flame graph with burn_cpu, and the top functions', { skip }, async () => {
  const res = await fetch(`${server!.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ gadget: 'profile', durationSeconds: 3, target: { cgroupPaths: [cgroup!.relPath] }, params: { frequencyHz: 199 } }),
  });
  assert.equal(res.status, 202, await res.clone().text());
  const { id } = (await res.json()) as { id: string };

  const { page, errors: consoleErrors } = await pageCollectingErrors(browser!, { width: 1280, height: 1200 });
  await page.goto(`${server!.url}/ui/trace.html?id=${id}`);
  await page.waitForSelector('body[data-finished]', { timeout: 60_000 });
  assert.equal(await page.getAttribute('body', 'data-finished'), 'succeeded');

  await page.waitForSelector('#flame[data-rendered="true"] svg g.frame', { timeout: 20_000 });
  const burn = page.locator('#flame g.frame[name="burn_cpu"]');
  assert.ok((await burn.count()) >= 1, 'burn_cpu has a frame in the flame graph');
  assert.match((await burn.first().locator('title').textContent()) ?? '', /burn_cpu/);
  assert.equal(await page.locator('[data-profile-top="top functions (self)"] tbody tr td.mono').first().textContent(), 'burn_cpu');
  assert.match((await page.textContent('#flame-info')) ?? '', /^\d+ samples, \d+ distinct stacks$/);

  // Interactive: a search highlights the matching frames; a click on burn_cpu zooms it to the full width.
  await page.fill('#flame-search', 'burn_cpu');
  const full = Number(await page.locator('#flame g.frame[name="all"] rect').getAttribute('width'));
  await burn.first().click();
  // a function, not a string: the page's CSP forbids eval
  type Doc = { querySelector(s: string): { getAttribute(name: string): string | null } | null };
  await page.waitForFunction(
    (w) => Number((globalThis as unknown as { document: Doc }).document.querySelector('#flame g.frame[name="burn_cpu"] rect')?.getAttribute('width')) >= w - 2,
    full,
  );
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.locator('#profile-section').screenshot({ path: join(ARTIFACTS, 'ui-profile.png') });
  await page.click('#flame-reset');
  assert.deepEqual(consoleErrors, [], 'no console error (the CSP allows the flame graph, nothing else)');
});
