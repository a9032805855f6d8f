import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import { type CliProcess, spawnTestnet, type TestnetStarted } from '../helpers/cli-process.js';

/** Where the screenshot goes (a test artifact, not committed). */
const ARTIFACTS = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));

/** Debian's chromium (`.ci/run` installs it): nothing downloads a browser. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

describe('dashboard in headless Chromium', () => {
  let testnet: CliProcess;
  let started: TestnetStarted;
  let profile: string;
  let browser: BrowserContext;

  before(async () => {
    ({ testnet, started } = await spawnTestnet(8));
    profile = await mkdtemp(join(tmpdir(), 'nautilus-chromium-'));
    // a fresh profile each run (launchPersistentContext passes it as --user-data-dir)
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
    });
  });
  after(async () => {
    await browser?.close();
    testnet?.child.kill('SIGINT');
    await testnet?.exited;
    await rm(profile, { recursive: true, force: true });
  });

  it('shows the routing table and counters of a running testnet, and a put as it happens', async () => {
    const page = await browser.newPage();
    await page.goto(started.dashboard);
    await page.locator('#status', { hasText: 'live' }).waitFor();
    await page.locator('.bucket[data-contacts]').first().waitFor();
    const filled = await page.locator('.buckets[data-family="4"] .bucket[data-contacts]').count();
    assert.ok(filled >= 1, `filled buckets: ${filled}`);
    assert.match(await page.locator('#c-contacts').innerText(), /^[1-9]\d*$/);
    assert.match(await page.locator('#node-id').innerText(), /^[0-9a-f]{40} · 127\.0\.0\.1:\d+ · memory storage$/);
    assert.equal(page.url(), new URL(started.api).href, 'the token leaves the address bar');

    // the charts are uPlot canvases, fed by the stats ticks (queries/s) and each operation (latency);
    // the page runs these expressions (this file has no DOM types)
    const points = async (name: string) => Number(await page.locator(`#chart-${name}`).getAttribute('data-points'));
    const pixels = (name: string) =>
      page.evaluate<string>(`document.querySelector('#chart-${name} canvas').toDataURL()`);
    const morePoints = (name: string, than: number) =>
      page.waitForFunction(`Number(document.getElementById('chart-${name}').dataset.points ?? 0) > ${than}`);
    assert.equal(await page.locator('#chart-qps canvas').count(), 1);
    assert.equal(await page.locator('#chart-latency canvas').count(), 1);
    await morePoints('qps', 1);
    const qpsBefore = [await points('qps'), await pixels('qps')] as const;
    const latencyBefore = [await points('latency'), await pixels('latency')] as const;

    const put = await fetch(`${started.api}/api/items`, {
      method: 'POST',
      headers: { authorization: `Bearer ${started.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ value: 'seen on the dashboard' }),
    });
    assert.equal(put.status, 200);
    const row = page.locator('#activity tbody tr', { hasText: 'put' });
    await row.waitFor();
    assert.match(await row.innerText(), /put\s+immutable\s+ok\s+\d+/);
    await page.locator('#c-items', { hasText: /^[1-9]/ }).waitFor();
    await morePoints('latency', latencyBefore[0]);
    await morePoints('qps', qpsBefore[0]);
    assert.notEqual(await pixels('latency'), latencyBefore[1], 'the latency chart drew the put');
    assert.notEqual(await pixels('qps'), qpsBefore[1], 'the queries/s chart drew a new tick');
    await mkdir(ARTIFACTS, { recursive: true });
    await page.setViewportSize({ width: 1200, height: 800 });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    await page.close();
  });

  it("serves uPlot's files from the installed uplot package, without a token", async () => {
    const require = createRequire(import.meta.url);
    for (const [path, file] of [
      ['/vendor/uPlot.iife.min.js', 'uplot/dist/uPlot.iife.min.js'],
      ['/vendor/uPlot.min.css', 'uplot/dist/uPlot.min.css'],
    ] as const) {
      const response = await fetch(`${started.api}${path}`);
      assert.equal(response.status, 200, path);
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), await readFile(require.resolve(file)), path);
    }
  });

  it('says clearly that the token was refused when it is wrong or expired', async () => {
    const page = await browser.newPage();
    await page.goto(`${started.api}/#token=expired-token`);
    const banner = page.locator('#auth');
    await banner.waitFor({ state: 'visible' });
    assert.match(await banner.innerText(), /The daemon refused the API token \(UNAUTHORIZED: wrong token/);
    assert.equal(await page.locator('#status').innerText(), 'offline');
    await page.close();
  });
});
