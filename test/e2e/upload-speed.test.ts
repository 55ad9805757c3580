/**
 * Measurement, not a check: how fast Chromium uploads a 200 MB file through the UI to a local
 * portal (filesystem storage). Opt-in, because it takes a while and loads the machine:
 *   SPEOS_MEASURE=1 npx vitest run test/e2e/upload-speed.test.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPortal, type TestPortal } from '../../packages/server/src/test-support/portal.js';
import { type Browser, launchBrowser, MiB, makeFile, skipReason, WEB_DIST } from './support.js';

const reason = skipReason() ?? (process.env.SPEOS_MEASURE ? undefined : 'set SPEOS_MEASURE=1 to measure');
const SIZE_MB = Number(process.env.SPEOS_MEASURE_MB ?? 200);

describe.skipIf(reason !== undefined)('upload speed in Chromium', () => {
  let portal: TestPortal;
  let browser: Browser;
  let files: string;

  beforeAll(async () => {
    files = await mkdtemp(path.join(tmpdir(), 'speos-measure-'));
    portal = await startTestPortal({ WEB_DIR: WEB_DIST });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await portal?.close();
    if (files) await rm(files, { recursive: true, force: true });
  });

  it(`uploads ${SIZE_MB} MB`, { timeout: 300_000 }, async () => {
    const file = await makeFile(files, 'big.speos', SIZE_MB * MiB);
    const page = await browser.context.newPage();
    await page.goto(`${portal.url}/#/submit`);
    await page.getByRole('button', { name: 'English', exact: true }).click();
    await page.getByLabel('Master file').setInputFiles(file);
    await page.getByLabel('Job name').fill('Speed');
    const started = performance.now();
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    await page.getByText(/Submitted — task /).waitFor({ timeout: 290_000 });
    const seconds = (performance.now() - started) / 1000;
    const rate = SIZE_MB / seconds;
    console.log(
      `upload-speed: ${SIZE_MB} MiB in ${seconds.toFixed(2)} s = ${rate.toFixed(1)} MiB/s (Chromium, XHR, 4 parts in flight, fs storage)`,
    );
    expect(rate).toBeGreaterThan(0);
  });
});
