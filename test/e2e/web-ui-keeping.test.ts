/**
 * The web UI of a long-running portal in real Chromium: the usage line against the quota
 * (and usage per user, the portal having no sign-in), "Keep files" (pin), and browser
 * notifications for a watched task. Chromium grants the notification permission through
 * the test's browser context; the page's Notification is wrapped (still calling the real
 * one) only to record what was shown, since a headless browser shows nothing to look at.
 * The solver is a TEST DOUBLE (packages/test-support/src/fake-speos.mjs).
 */
import { TestApi } from '@speos-portal/test-support/api.js';
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, launchBrowser, MiB, skipReason, WEB_DIST } from './support.js';

const reason = skipReason();

describe.skipIf(reason !== undefined)('web UI: usage, pin and browser notifications', () => {
  let portal: TestPortal;
  let browser: Browser;
  let api: TestApi;

  beforeAll(async () => {
    portal = await startTestPortal({
      WEB_DIR: WEB_DIST,
      USER_QUOTA_BYTES: String(8 * MiB),
      SPEOS_COMMAND_V252: `${process.execPath} ${FAKE} {master}`,
    });
    api = new TestApi(portal.url);
    browser = await launchBrowser();
    await browser.context.grantPermissions(['notifications'], { origin: portal.url });
  });
  afterAll(async () => {
    await browser?.close();
    await portal?.close();
  });

  async function submit(jobName: string, plan: Record<string, unknown>) {
    const { init } = await api.uploadFile(Buffer.from(JSON.stringify(plan)), { filename: 'model.speos' });
    const res = await api.post('/tasks/upload/confirm', {
      task_id: init.task_id,
      master_object_key: init.object_key,
      job_name: jobName,
    });
    expect(res.status).toBe(200);
    return init.task_id as string;
  }

  it('shows the usage against the quota, and usage per user', async () => {
    await api.init({ filename: 'big.zip', file_size: 2 * MiB }); // unfinished: counts in full
    const page = await browser.context.newPage();
    await page.goto(`${portal.url}/#/tasks`);
    await page.getByRole('button', { name: 'English', exact: true }).click();
    const line = page.getByTestId('usage-line');
    await line.waitFor();
    expect(await line.textContent()).toMatch(/^Storage: 2\.0 MiB of 8\.0 MiB \(25 %\)/);
    await page.getByText('Storage per user').click();
    await expect.poll(async () => page.locator('.usage-users td').allTextContents()).toContain('2.0 MiB (25 %)');
    await page.close();
  });

  it('pins a task, and notifies when a watched task ends', async () => {
    const id = await submit('Headlamp', { passes: 30, delay_ms: 150, outputs: { 'report.html': 'ok' } });
    const page = await browser.context.newPage();
    await page.addInitScript(() => {
      const Real = window.Notification;
      const shown: string[] = [];
      (window as unknown as { __shown: string[] }).__shown = shown;
      class Recording extends Real {
        constructor(title: string, options?: NotificationOptions) {
          super(title, options);
          shown.push(title);
        }
      }
      window.Notification = Recording as typeof Notification;
    });
    await page.goto(`${portal.url}/#/tasks/${id}`);
    await page.getByRole('button', { name: 'English', exact: true }).click();
    await page.getByRole('button', { name: 'Notify me' }).click();
    await page.getByRole('button', { name: 'Stop notifying' }).waitFor();
    await page.getByRole('button', { name: 'Keep files' }).click();
    await page.getByRole('button', { name: 'Stop keeping files' }).waitFor();
    expect((await api.get(`/tasks/${id}`)).body.pinned).toBe(true);

    await expect
      .poll(async () => page.evaluate(() => (window as unknown as { __shown: string[] }).__shown), { timeout: 30_000 })
      .toContain('Headlamp: Success');
    // An ended task is no longer watched.
    await page.getByRole('button', { name: 'Stop notifying' }).waitFor({ state: 'detached' });
    await page.close();
  });
});
