/**
 * The web UI in a real Chromium against a real portal: submit, invalid field, cancel,
 * reload-and-resume. Needs the built UI (npm run build -w @speos-portal/web) and /usr/bin/chromium.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPortal, type TestPortal } from '../../packages/server/src/test-support/portal.js';
import {
  type Browser,
  launchBrowser,
  MiB,
  makeFile,
  savedUploads,
  screenshot,
  skipReason,
  WEB_DIST,
} from './support.js';

const reason = skipReason();
if (reason) console.warn(`web UI browser tests skipped: ${reason}`);

describe.skipIf(reason !== undefined)('web UI in Chromium', () => {
  let portal: TestPortal;
  let browser: Browser;
  let files: string;

  beforeAll(async () => {
    files = await mkdtemp(path.join(tmpdir(), 'speos-e2e-files-'));
    portal = await startTestPortal({ WEB_DIR: WEB_DIST });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await portal?.close();
    if (files) await rm(files, { recursive: true, force: true });
  });

  async function openSubmit(): Promise<Page> {
    const page = await browser.context.newPage();
    await page.goto(`${portal.url}/#/submit`);
    await page.getByLabel('Job name').waitFor();
    return page;
  }

  it('submits a 30 MB file end to end and lists the task', async () => {
    const file = await makeFile(files, 'headlamp.speos', 30 * MiB);
    const page = await openSubmit();
    await screenshot(page, 'submit-form-en');
    await page.getByLabel('Master file').setInputFiles(file);
    await page.getByLabel('Job name').fill('Headlamp low beam');
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    const done = page.getByText(/Submitted — task [0-9a-f-]{36}/);
    await done.waitFor({ timeout: 60_000 });
    const taskId = /task ([0-9a-f-]{36})/.exec((await done.textContent()) ?? '')![1]!;
    await screenshot(page, 'progress-submitted-en');
    expect(await savedUploads(page)).toEqual([]);

    await page.getByRole('link', { name: 'Tasks', exact: true }).click();
    const row = page.getByRole('row', { name: /Headlamp low beam/ });
    await row.waitFor();
    expect(await row.textContent()).toContain('Pending');
    await screenshot(page, 'task-list-en');

    await row.getByRole('link', { name: 'Headlamp low beam' }).click();
    await page.getByRole('heading', { name: 'Status history' }).waitFor();
    expect(await page.textContent('main')).toContain(taskId);
    await screenshot(page, 'task-page-en');
    const task = await (await fetch(`${portal.url}/tasks/${taskId}`)).json();
    expect(task).toMatchObject({ status: 'PENDING', job_name: 'Headlamp low beam', priority: 2 });
    expect(task.master).toMatchObject({ filename: 'headlamp.speos', size: 30 * MiB });
    await page.close();
  });
});
