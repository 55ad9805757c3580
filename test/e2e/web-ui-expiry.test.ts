/**
 * Upload URLs that expire mid-upload: a portal whose URLs live 2 s, and a browser throttled so
 * the 30 MB upload takes several times that. The page must re-sign and finish on its own.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Browser,
  launchBrowser,
  MiB,
  makeFile,
  partsStored,
  savedUploads,
  skipReason,
  throttleUploads,
  WEB_DIST,
} from './support.js';

const reason = skipReason();

describe.skipIf(reason !== undefined)('web UI with short-lived upload URLs', () => {
  let portal: TestPortal;
  let browser: Browser;
  let files: string;

  beforeAll(async () => {
    files = await mkdtemp(path.join(tmpdir(), 'speos-e2e-expiry-'));
    portal = await startTestPortal({ WEB_DIR: WEB_DIST, URL_TTL_SECONDS: '2' });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await portal?.close();
    if (files) await rm(files, { recursive: true, force: true });
  });

  it('finishes a throttled upload whose URLs expire halfway', async () => {
    const file = await makeFile(files, 'slow.speos', 30 * MiB);
    const page = await browser.context.newPage();
    await page.goto(`${portal.url}/#/submit`);
    await page.getByRole('button', { name: 'English', exact: true }).click();
    await throttleUploads(page, 5 * MiB);
    const started = Date.now();
    await page.getByLabel('Master file').setInputFiles(file);
    await page.getByLabel('Job name').fill('Slow link');
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    await page.getByText(/Submitted — task /).waitFor({ timeout: 90_000 });

    // 30 MB at 5 MB/s: the init's URLs (2 s) were long dead before the last parts went out.
    expect(Date.now() - started).toBeGreaterThan(4000);
    expect(await partsStored(portal.url)).toBe(6);
    expect(await page.locator('[role="alert"]').count()).toBe(0);
    expect(await savedUploads(page)).toEqual([]);
    await page.close();
  });
});
