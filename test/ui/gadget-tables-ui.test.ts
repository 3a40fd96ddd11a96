/**
 * The /ui trace page of a real blockio trace (summary mode: counted in the kernel) in headless
 * Chromium against a real all-in-one server: the latency histogram of the target's reads and writes
 * on a loop device, one bar per slot, and the top processes. The CSP holds: no console error.
 * Screenshot: test-artifacts/ui-blockio.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Browser } from 'playwright-core';
import { chromiumSkipReason, launchHeadlessChromium, pageCollectingErrors } from './headless-chromium.ts';
import { createTestLoopDevice, directIo, type TestLoopDevice } from '../../bpf/gadgets/blockio/blockio-test-workload.ts';
import { buildGadgetObject } from '../../bpf/src/gadget-test-fixture.ts';
import { createTestCgroup, kernelTestSkipReason, uniqueCgroupPath, type TestCgroup } from '../support/cgroups.ts';
import { REPO_ROOT, startTracejobServer, type TracejobServer } from '../cli/tracejob-server.ts';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const skip = kernelTestSkipReason() ?? chromiumSkipReason();

let server: TracejobServer | undefined;
let browser: Browser | undefined;
let target: TestCgroup | undefined;
let other: TestCgroup | undefined;
let loop: TestLoopDevice | undefined;

before(async () => {
  if (skip) return;
  buildGadgetObject('blockio');
  server = await startTracejobServer();
  target = createTestCgroup(uniqueCgroupPath('ui-blockio'));
  other = createTestCgroup(uniqueCgroupPath('ui-blockio-other'));
  loop = createTestLoopDevice();
  browser = await launchHeadlessChromium();
});

after(async () => {
  await browser?.close();
  loop?.destroy();
  await target?.destroy();
  await other?.destroy();
  await server?.close();
});

/** Resolves once every node of the trace reports its gadget attached (tracingSince). */
async function tracing(id: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const t = (await (await fetch(`${server!.url}/v1/traces/${id}`)).json()) as { status: string; nodes: { tracingSince?: string }[] };
    if (t.nodes.length > 0 && t.nodes.every((n) => n.tracingSince)) return;
    if (['succeeded', 'partial', 'failed', 'cancelled'].includes(t.status)) throw new Error(`trace ${id} ended (${t.status}) before tracing`);
    await delay(100);
  }
  throw new Error(`trace ${id} is not tracing after 60 s`);
}

test('a blockio trace page shows the latency histogram of the target’s I/O per disk and op, and the top processes', { skip }, async () => {
  const res = await fetch(`${server!.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ gadget: 'blockio', durationSeconds: 4, target: { cgroupPaths: [target!.relPath] } }),
  });
  assert.equal(res.status, 202, await res.clone().text());
  const { id } = (await res.json()) as { id: string };
  await tracing(id);
  const io = await directIo(loop!, target!, other!);

  const { page, errors: consoleErrors } = await pageCollectingErrors(browser!, { width: 1280, height: 1600 });
  await page.goto(`${server!.url}/ui/trace.html?id=${id}`);
  await page.waitForSelector('body[data-finished]', { timeout: 60_000 });
  assert.equal(await page.getAttribute('body', 'data-finished'), 'succeeded');

  const reads = page.locator(`[data-blockio-device="${loop!.disk} read"]`);
  await reads.waitFor();
  assert.equal(await reads.locator('h2').textContent(), `${loop!.disk} read: 3 requests, 12.0 KiB`);
  const counts = (await reads.locator('tbody td.num').allTextContents()).map(Number);
  assert.equal(
    counts.reduce((a, b) => a + b, 0),
    3,
    'the slots hold the three reads',
  );
  const fullBars = await reads.locator('.hist-bar[style*="width: 100%"]').count();
  assert.ok(fullBars >= 1, 'the fullest slot has the full bar');
  assert.equal(await page.locator(`[data-blockio-device="${loop!.disk} write"] h2`).textContent(), `${loop!.disk} write: 2 requests, 16.0 KiB`);

  const processes = page.locator('[data-blockio-top="processes"] tbody tr');
  const rows = await processes.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
  assert.ok(rows.some((r) => r[2] === String(io.writerPid) && r[3] === 'dd' && r[4] === `cgroup ${target!.id}`), JSON.stringify(rows));

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'ui-blockio.png'), fullPage: true });
  assert.deepEqual(consoleErrors, []);
});
