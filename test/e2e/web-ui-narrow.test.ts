/**
 * Every page at phone width (360 px, the narrowest common phone): nothing wider than the
 * screen, nothing cut off. A real Chromium against a real portal with an in-process worker;
 * the solver is the TEST DOUBLE fake-speos.mjs (SPEOS cannot be installed here).
 */
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, launchBrowser, screenshot, skipReason, submitViaApi, until, WEB_DIST } from './support.js';

const reason = skipReason();
if (reason) console.warn(`narrow-viewport browser tests skipped: ${reason}`);

const WIDTH = 360;

/** Elements that stick out of the viewport on the right, or the page's own scroll width. */
async function overflow(page: Page): Promise<string[]> {
  return page.evaluate((width) => {
    const found: string[] = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > width) found.push(`the page is ${doc.scrollWidth} px wide`);
    for (const element of document.querySelectorAll<HTMLElement>('body *')) {
      const box = element.getBoundingClientRect();
      if (box.width === 0 || box.height === 0) continue;
      // Inside a box that scrolls sideways on purpose (a wide table, a log line), it is reachable.
      let scroller: HTMLElement | null = element.parentElement;
      let inScroller = false;
      while (scroller && scroller !== document.body) {
        const style = getComputedStyle(scroller);
        if (style.overflowX === 'auto' || style.overflowX === 'scroll') inScroller = true;
        scroller = scroller.parentElement;
      }
      if (inScroller) continue;
      if (box.right > width + 0.5 || box.left < -0.5) {
        const name = `${element.tagName.toLowerCase()}${element.className ? `.${String(element.className).split(' ').join('.')}` : ''}`;
        found.push(`${name} spans ${Math.round(box.left)}…${Math.round(box.right)} px`);
      }
    }
    return found.slice(0, 10);
  }, WIDTH);
}

describe.skipIf(reason !== undefined)(`every page fits ${WIDTH} px`, () => {
  let portal: TestPortal;
  let browser: Browser;
  let succeeded: string;
  let failed: string;

  beforeAll(async () => {
    portal = await startTestPortal({
      WEB_DIR: WEB_DIST,
      SPEOS_COMMAND_V252: `${process.execPath} ${FAKE} {master} -t {thread_count} -p {priority}`,
    });
    browser = await launchBrowser();
    const plan = (p: Record<string, unknown>) => Buffer.from(JSON.stringify(p));
    succeeded = await submitViaApi(
      portal.url,
      { job_name: 'Headlamp low beam, left-hand traffic, full sensor set 车灯近光' },
      plan({
        passes: 3,
        log_lines: 2,
        outputs: {
          'Direct.Simulation.1.Irradiance_sensor_with_a_very_long_name.xmp': 'x'.repeat(2000),
          'report/a/very/deep/folder/structure/Simulation_report_with_long_name.html': '<p>report</p>',
        },
      }),
    );
    failed = await submitViaApi(
      portal.url,
      { job_name: '车灯 近光 失败', submitter: '张三' },
      plan({
        passes: 2,
        exit: 3,
        stderr: 'Licence server not reachable: FLEXlm error -15,10. System Error: 111 "Connection refused"',
      }),
    );
    for (const id of [succeeded, failed]) {
      await until(`task ${id} to end`, async () => {
        const task = (await (await fetch(`${portal.url}/tasks/${id}`)).json()) as { status: string };
        return task.status === 'SUCCESS' || task.status === 'FAILURE';
      });
    }
  });

  afterAll(async () => {
    await browser?.close();
    await portal?.close();
  });

  async function narrowPage(hash: string, lang: 'English' | '中文', ready: (page: Page) => Promise<unknown>) {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: WIDTH, height: 780 });
    // The language as the switch remembers it, so the page renders in it from the start.
    await page.addInitScript(
      (code) => localStorage.setItem('speos_portal_lang', code),
      lang === 'English' ? 'en' : 'zh',
    );
    await page.goto(`${portal.url}/${hash}`);
    await ready(page);
    return page;
  }

  for (const lang of ['English', '中文'] as const) {
    it(`the submit form, the task list and the task pages (${lang})`, async () => {
      const pages: [string, string, (page: Page) => Promise<unknown>][] = [
        ['submit', '#/submit', (p) => p.locator('form input[type=file]').first().waitFor({ state: 'attached' })],
        ['tasks', '#/tasks', (p) => p.locator('.tasks-table tbody tr a').first().waitFor()],
        ['task-success', `#/tasks/${succeeded}`, (p) => p.locator('.outputs-table, .outputs').first().waitFor()],
        ['task-failure', `#/tasks/${failed}`, (p) => p.locator('.outcome').waitFor()],
        // Without sign-in these two ask for a token: the dialog is measured too.
        ['tokens', '#/tokens', (p) => p.locator('.page').first().waitFor()],
        ['device', '#/device?code=ABCD-EFGH', (p) => p.locator('.page').first().waitFor()],
      ];
      for (const [name, hash, ready] of pages) {
        const page = await narrowPage(hash, lang, ready);
        // Let late content (log, outputs) arrive before measuring.
        await page.waitForTimeout(500);
        const suffix = lang === 'English' ? 'en' : 'zh';
        await screenshot(page, `narrow-${name}-${suffix}`);
        expect({ page: name, overflow: await overflow(page) }).toEqual({ page: name, overflow: [] });
        await page.close();
      }
    });
  }

  it('shows the server notes of a failed run in Chinese: its message and status history', async () => {
    const page = await browser.context.newPage();
    await page.addInitScript(() => localStorage.setItem('speos_portal_lang', 'zh'));
    await page.goto(`${portal.url}/#/tasks/${failed}`);
    await page.locator('.outcome').waitFor();
    expect(await page.locator('.outcome-message').textContent()).toBe('SPEOS 异常退出，退出码 3');
    const notes = await page.locator('.history li .muted').allTextContents();
    expect(notes).toEqual(['已提交', expect.stringMatching(/^已由计算节点 \S+ 领取$/), 'SPEOS 异常退出，退出码 3']);
    await screenshot(page, 'task-failure-zh');
    // The same page in English says what the server wrote.
    await page.getByRole('button', { name: 'English', exact: true }).click();
    expect(await page.locator('.outcome-message').textContent()).toBe('SPEOS stopped with exit code 3');
    await page.close();
  });

  it('keeps the task page controls on screen: Download all, the log and the outputs', async () => {
    const page = await narrowPage(`#/tasks/${succeeded}`, 'English', (p) =>
      p.getByRole('button', { name: 'Download all', exact: true }).waitFor(),
    );
    for (const locator of [
      page.getByRole('button', { name: 'Download all', exact: true }),
      page.getByRole('log'),
      page.getByRole('heading', { name: 'Outputs' }),
    ]) {
      const box = await locator.boundingBox();
      expect(box).not.toBeNull();
      expect(box!.x).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width).toBeLessThanOrEqual(WIDTH);
    }
    await page.close();
  });
});
