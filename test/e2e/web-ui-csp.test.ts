/**
 * The portal's Content-Security-Policy against the built web UI and the API docs in a real
 * Chromium: every screen used to submit and follow a job renders and uploads with no
 * violation reported by the browser, and the policy forbids framing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, launchBrowser, MiB, makeFile, skipReason, WEB_DIST } from './support.js';

const reason = skipReason();
if (reason) console.warn(`CSP browser test skipped: ${reason}`);

/** Opens a page that records every CSP violation the browser reports (events and console). */
async function watchedPage(browser: Browser): Promise<{ page: Page; violations: () => Promise<string[]> }> {
  const page = await browser.context.newPage();
  const console: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) console.push(message.text());
  });
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __csp: string[] }).__csp = seen;
    document.addEventListener('securitypolicyviolation', (event) => {
      seen.push(`${event.violatedDirective} blocked ${event.blockedURI}`);
    });
  });
  return {
    page,
    violations: async () => [
      ...console,
      ...(await page.evaluate(() => (window as unknown as { __csp?: string[] }).__csp ?? [])),
    ],
  };
}

describe.skipIf(reason !== undefined)('Content-Security-Policy in Chromium', () => {
  let portal: TestPortal;
  let browser: Browser;
  let files: string;

  beforeAll(async () => {
    files = await mkdtemp(path.join(tmpdir(), 'speos-csp-'));
    portal = await startTestPortal({ WEB_DIR: WEB_DIST });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await portal?.close();
    if (files) await rm(files, { recursive: true, force: true });
  });

  it('lets the web UI render, upload and show the task without a single violation', async () => {
    const { page, violations } = await watchedPage(browser);
    const response = await page.goto(`${portal.url}/#/submit`);
    const csp = response!.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(response!.headers()['referrer-policy']).toBe('no-referrer');
    await page.getByRole('button', { name: 'English', exact: true }).click();
    await page.getByLabel('Master file').setInputFiles(await makeFile(files, 'csp.speos', 6 * MiB));
    await page.getByLabel('Job name').fill('CSP check');
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    await page.getByText(/Submitted — task /).waitFor({ timeout: 60_000 });
    await page.getByRole('link', { name: 'Tasks', exact: true }).click();
    await page.getByRole('link', { name: 'CSP check' }).click();
    await page.getByRole('heading', { name: 'Status history' }).waitFor();
    expect(await violations()).toEqual([]);
    await page.close();
  });

  it('lets the API docs (Swagger UI) render without a violation', async () => {
    const { page, violations } = await watchedPage(browser);
    await page.goto(`${portal.url}/docs`);
    await page.locator('.swagger-ui .opblock').first().waitFor({ timeout: 30_000 });
    const seen = await violations();
    expect(seen, seen.join('\n')).toEqual([]);
    await page.close();
  });
});
