import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
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
    await mkdir(ARTIFACTS, { recursive: true });
    await page.setViewportSize({ width: 1200, height: 800 });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    await page.close();
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
