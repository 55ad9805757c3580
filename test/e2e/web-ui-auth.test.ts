/** A portal with AUTH_TOKENS: the page asks for the token once, keeps it, and sends it as a bearer. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('says in the dialog that a wrong token was refused, in the chosen language', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${portal.url}/#/tasks`);
    // The test before saved the right token in this profile.
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    const token = page.getByLabel('Access token');
    await token.waitFor();
    // First time: the server needs a token; nothing was refused yet.
    expect(await page.locator('dialog .token-refused').count()).toBe(0);
    await token.fill('not-the-right-token-0000');
    await page.getByRole('button', { name: 'Save token' }).click();
    const refusal = page.getByRole('dialog').getByRole('alert');
    await refusal.waitFor();
    expect(await refusal.textContent()).toContain('The server did not accept this token');
    await screenshot(page, 'token-refused-en');
    await page.getByRole('dialog').getByRole('button', { name: '中文', exact: true }).click();
    await page.getByRole('dialog').getByText('服务器不接受此令牌').waitFor();
    await page.getByLabel('访问令牌').fill(TOKEN);
    await page.getByRole('button', { name: '保存令牌' }).click();
    await page.getByRole('dialog').waitFor({ state: 'hidden' });
    await page.getByRole('heading', { name: '任务列表' }).waitFor();
    await page.close();
  });
});
