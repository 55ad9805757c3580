/** A portal with AUTH_TOKENS: the page asks for the token once, keeps it, and sends it as a bearer. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPortal, type TestPortal } from '../../packages/server/src/test-support/portal.js';
import { type Browser, launchBrowser, MiB, makeFile, screenshot, skipReason, WEB_DIST } from './support.js';

const reason = skipReason();
const TOKEN = 'e2e-token-0123456789abcdef';

describe.skipIf(reason !== undefined)('web UI with auth on', () => {
  let portal: TestPortal;
  let browser: Browser;
  let files: string;

  beforeAll(async () => {
    files = await mkdtemp(path.join(tmpdir(), 'speos-e2e-auth-'));
    portal = await startTestPortal({ WEB_DIR: WEB_DIST, AUTH_TOKENS: `${TOKEN}:alice` });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await portal?.close();
    if (files) await rm(files, { recursive: true, force: true });
  });

  it('asks for the token once, remembers it and submits with it', async () => {
    const file = await makeFile(files, 'secure.speos', 6 * MiB);
    const page = await browser.context.newPage();
    await page.goto(`${portal.url}/#/submit`);
    // The browser's language is en-US, so the page starts in English.
    const token = page.getByLabel('Access token');
    await token.waitFor();
    await screenshot(page, 'token-dialog-en');
    await token.fill(TOKEN);
    await page.getByRole('button', { name: 'Save token' }).click();

    await page.getByLabel('Master file').setInputFiles(file);
    await page.getByLabel('Job name').fill('Behind a token');
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    await page.getByText(/Submitted — task /).waitFor({ timeout: 60_000 });

    await page.reload();
    await page.getByLabel('Job name').waitFor();
    expect(await page.getByLabel('Access token').isVisible()).toBe(false);
    const list = await fetch(`${portal.url}/tasks`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = (await list.json()) as { items: { job_name: string; status: string }[] };
    expect(body.items).toMatchObject([{ job_name: 'Behind a token', status: 'PENDING' }]);
    await page.close();
  });
});
