/**
 * The task page while a worker runs jobs, in a real Chromium against a real portal with an
 * in-process worker. The solver is the TEST DOUBLE fake-speos.mjs (SPEOS cannot be installed
 * here): its "master file" is a JSON plan saying how many passes to print, which result files
 * to write, how to exit — or to hang until stopped. Covers live progress and log tail,
 * outputs and their downloads, a failure, Stop, Retry and Delete with their confirmations.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, launchBrowser, screenshot, skipReason, submitViaApi, until, WEB_DIST } from './support.js';

const reason = skipReason();
if (reason) console.warn(`worker UI browser tests skipped: ${reason}`);

/** The solver TEST DOUBLE. */
const TASK_ID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/** What fake-speos.mjs does with a master file: see its header. */
interface Plan {
  passes?: number;
  delay_ms?: number;
  exit?: number;
  stderr?: string;
  hang?: boolean;
  outputs?: Record<string, string>;
}
const planBytes = (plan: Plan) => Buffer.from(JSON.stringify(plan));

const logText = (page: Page) =>
  page
    .getByRole('log')
    .textContent()
    .then((t) => t ?? '');
const badge = (page: Page) => page.locator('.page-head .badge').textContent();

const REPORT = '<html><body><h1>Low beam</h1><p>Illuminance 12.5 lx</p></body></html>';
const XMP = 'XMP map ✓ 光强 — 0.25 0.50 0.75\n'.repeat(40);

describe.skipIf(reason !== undefined)('task page with a worker (fake solver) in Chromium', () => {
  let portal: TestPortal;
  let browser: Browser;
  let files: string;

  beforeAll(async () => {
    files = await mkdtemp(path.join(tmpdir(), 'speos-e2e-worker-'));
    portal = await startTestPortal({
      WEB_DIR: WEB_DIST,
      SPEOS_COMMAND_V252: `${process.execPath} ${FAKE} {master} -t {thread_count} -p {priority}`,
      WORKER_STOP_GRACE_SECONDS: '2',
    });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await portal?.close();
    if (files) await rm(files, { recursive: true, force: true });
  });

  const api = async (p: string, init?: RequestInit) => fetch(`${portal.url}${p}`, init);
  const apiTask = async (id: string) => (await (await api(`/tasks/${id}/detail`)).json()) as Record<string, unknown>;

  async function openTask(id: string, lang: 'English' | '中文' = 'English'): Promise<Page> {
    const page = await browser.context.newPage();
    await page.goto(`${portal.url}/#/tasks/${id}`);
    await page.getByRole('button', { name: lang, exact: true }).click();
    await page.getByRole('heading', { name: lang === 'English' ? 'Solver log' : '求解器日志' }).waitFor();
    return page;
  }

  const logText = (page: Page) =>
    page
      .getByRole('log')
      .textContent()
      .then((t) => t ?? '');
  const badge = (page: Page) => page.locator('.page-head .badge').textContent();

  it('submits through the form, shows progress and the log live, lists and downloads the outputs', async () => {
    const master = path.join(files, 'low-beam.speos');
    // 24 s of passes, two lines each: the log overflows early and grows while scrolled up
    // before the run ends, even on a busy machine (the portal's own lines are short).
    await writeFile(
      master,
      planBytes({ passes: 60, delay_ms: 400, outputs: { 'report.html': REPORT, 'sub dir/result.xmp': XMP } }),
    );
    const page = await browser.context.newPage();
    await page.goto(`${portal.url}/#/submit`);
    await page.getByRole('button', { name: 'English', exact: true }).click();
    await page.getByLabel('Master file').setInputFiles(master);
    await page.getByLabel('Job name').fill('Low beam photometry');
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    const done = page.getByText(/Submitted — task /);
    await done.waitFor({ timeout: 30_000 });
    const taskId = TASK_ID.exec((await done.textContent()) ?? '')![0];
    await page.getByRole('link', { name: 'Open task' }).click();
    await page.getByRole('heading', { name: 'Solver log' }).waitFor();

    // Progress moves and log lines arrive while the job runs, without a reload: sampled on every probe.
    const percents = new Set<number>();
    const passesSeen = new Set<number>();
    const log = page.getByRole('log');
    const sample = async () => {
      if ((await badge(page)) !== 'Running') return;
      const shown = await page
        .getByRole('progressbar', { name: 'Simulation progress' })
        .getAttribute('aria-valuenow', { timeout: 200 })
        .catch(() => null);
      if (shown) percents.add(Number(shown));
      const passes = [...(await logText(page)).matchAll(/Pass (\d+)\/60/g)];
      if (passes.length) passesSeen.add(Number(passes.at(-1)![1]));
    };
    const scroll = () =>
      log.evaluate((el) => ({
        top: el.scrollTop,
        max: el.scrollHeight - el.clientHeight,
        length: el.textContent!.length,
      }));
    /** A probe that also samples the progress and the log. */
    const sampling =
      <T>(probe: () => Promise<T>) =>
      async () => {
        await sample();
        return probe();
      };
    await until(
      'the log to show a pass',
      sampling(async () => /Pass \d+\/60/.test(await logText(page))),
      20_000,
    );
    // The facts come from the next progress event, which can trail the log line on a busy machine.
    await expect
      .poll(() => page.locator('.progress-facts').textContent(), { timeout: 20_000 })
      .toMatch(/Pass\d+ \/ 60Sensor\d+ \/ 60/);
    await screenshot(page, 'task-running-en');

    // The log follows its end; scrolled up, it stays put while lines keep coming, until asked to follow.
    const full = await until(
      'the log to overflow',
      sampling(async () => {
        const s = await scroll();
        return s.max > 0 && s;
      }),
    );
    expect(full.max - full.top).toBeLessThan(24);
    // The wheel turned up, as a reader does: the page lets go of the end at once, even when a
    // chunk of lines lands before the scroll event (LogTail's onWheel).
    const follow = page.getByRole('button', { name: 'Follow the latest lines' });
    await log.hover();
    await page.mouse.wheel(0, -1_000_000);
    await follow.waitFor({ timeout: 5_000 });
    await until('the view at the top', async () => (await scroll()).top === 0, 5_000);
    await until(
      'more lines while scrolled up',
      sampling(async () => (await scroll()).length > full.length),
    );
    expect((await scroll()).top).toBe(0);
    await screenshot(page, 'task-running-scrolled-en');
    await follow.click();
    await until('the view at the end again', async () => {
      const s = await scroll();
      return s.max - s.top < 24;
    });

    await until(
      'SUCCESS',
      sampling(async () => (await badge(page)) === 'Success'),
      30_000,
    );
    // Several distinct percents and several log tails were seen before the end.
    expect(percents.size).toBeGreaterThanOrEqual(2);
    expect(passesSeen.size).toBeGreaterThanOrEqual(3);

    // SUCCESS: the log ends, the outputs are listed with their sizes.
    await until('the log to end', async () => (await page.locator('.log-state').textContent()) === 'Ended');
    expect(await logText(page)).toContain('Pass 60/60 - 100% done');
    const rows = page.locator('.outputs-table tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    expect(await rows.nth(0).textContent()).toContain('report.html');
    expect(await rows.nth(1).textContent()).toContain('sub dir/result.xmp');
    expect(await page.locator('.outputs-card').textContent()).toContain('2 files');
    expect(await page.getByRole('progressbar').count()).toBe(0);
    await screenshot(page, 'task-success-en');

    // One output, byte for byte (the page's link, with a space in its path).
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download sub dir/result.xmp' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('result.xmp');
    expect((await readFile((await download.path())!)).equals(Buffer.from(XMP))).toBe(true);

    // All of them as a zip.
    const [zip] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download all', exact: true }).click(),
    ]);
    expect(zip.suggestedFilename()).toBe('Low beam photometry-outputs.zip');
    const zipBytes = await readFile((await zip.path())!);
    expect(zipBytes.subarray(0, 2).toString()).toBe('PK');
    for (const name of ['report.html', 'sub dir/result.xmp']) expect(zipBytes.includes(Buffer.from(name))).toBe(true);

    await page.getByRole('button', { name: '中文', exact: true }).click();
    await page.getByRole('button', { name: '全部下载', exact: true }).waitFor();
    await screenshot(page, 'task-success-zh');
    expect((await apiTask(taskId)).status).toBe('SUCCESS');
    await page.close();
  });

  it('shows a failure: the message up front, the log tail once (not again as error detail)', async () => {
    const id = await submitViaApi(
      portal.url,
      { job_name: 'Licence trouble' },
      planBytes({ passes: 2, delay_ms: 50, exit: 3, stderr: 'Licence server not reachable' }),
    );
    const page = await openTask(id);
    await until('FAILURE', async () => (await badge(page)) === 'Failure', 20_000);
    const alert = page.locator('.outcome');
    await alert.waitFor();
    const message = (await apiTask(id)).message as string;
    expect(message).toBeTruthy();
    expect(await alert.locator('.outcome-message').textContent()).toBe(message);
    // The error detail is the log's last lines: once the log panel shows them, they are not
    // repeated (folded) in the failure notice.
    expect((await apiTask(id)).error_detail).toContain('Licence server not reachable');
    await until('the log tail', async () => (await logText(page)).includes('Licence server not reachable'));
    await until('the repeated detail to go', async () => (await alert.locator('.error-details').count()) === 0);
    expect(await page.getByText('Licence server not reachable').count()).toBe(1);
    await screenshot(page, 'task-failure-en');
    await page.getByRole('button', { name: '中文', exact: true }).click();
    await page.getByText('任务失败').waitFor();
    await screenshot(page, 'task-failure-zh');
    await page.close();
  });

  it('keeps only the last ~1 MB of a long log in the page, cut at a line start', async () => {
    // The fake solver cannot print megabytes quickly (its stderr is cut short at exit), so the
    // test serves this task's log route itself: 2.6 MB that grows by 400 KB per poll.
    const id = await submitViaApi(portal.url, { job_name: 'Chatty solver' }, planBytes({ passes: 1 }));
    const lines = Array.from({ length: 36_000 }, (_, i) => `line ${String(i).padStart(6, '0')} ${'x'.repeat(60)}`);
    const big = `${lines.join('\n')}\n`;
    const serveLog = async (page: Page, growBy: number) => {
      let available = 0;
      await page.route(
        (url) => url.pathname.endsWith(`/tasks/${id}/logs`),
        (route) => {
          const url = new URL(route.request().url());
          const offset = Number(url.searchParams.get('offset') ?? 0);
          const limit = Number(url.searchParams.get('limit') ?? 1024 * 1024);
          available = Math.min(big.length, available + growBy);
          const content = big.slice(offset, Math.min(available, offset + limit));
          const next = offset + content.length;
          void route.fulfill({
            json: { task_id: id, offset, next_offset: next, size: available, content, finished: next >= big.length },
          });
        },
      );
    };
    const check = async (page: Page) => {
      await until('the whole log', async () => (await page.locator('.log-state').textContent()) === 'Ended', 30_000);
      const text = await logText(page);
      expect(text.length).toBeLessThanOrEqual(1_000_000);
      expect(text.length).toBeGreaterThan(900_000);
      expect(text).toMatch(/^line \d{6} x+\n/);
      expect(text.endsWith(`${lines.at(-1)}\n`)).toBe(true);
      expect(text).not.toContain('line 000000');
      await page.getByText(/^Showing the last 977 KiB/).waitFor();
      // Its chunks stay few (a poll re-renders the last one, not the whole log).
      expect(await page.locator('.log > span').count()).toBeLessThan(100);
    };
    // Growing while the page is open (trimmed as it grows), then opened once it is all there (read from near its end).
    const live = await browser.context.newPage();
    await serveLog(live, 400 * 1024);
    await live.goto(`${portal.url}/#/tasks/${id}`);
    await live.getByRole('button', { name: 'English', exact: true }).click();
    await check(live);
    const later = await browser.context.newPage();
    await serveLog(later, big.length);
    await later.goto(`${portal.url}/#/tasks/${id}`);
    await check(later);
    await live.close();
    await later.close();
  });

  it('stops a hanging job after a confirmation; the list shows the running percent', async () => {
    const id = await submitViaApi(
      portal.url,
      { job_name: 'Hangs forever' },
      planBytes({ passes: 4, delay_ms: 150, hang: true }),
    );
    const page = await openTask(id);
    await until('the solver to hang', async () => (await logText(page)).includes('simulating forever'), 20_000);

    const list = await browser.context.newPage();
    await list.goto(`${portal.url}/#/tasks`);
    const row = list.getByRole('row', { name: /Hangs forever/ });
    await until('the percent in the list', async () => (await row.textContent().catch(() => ''))?.includes('100%'));
    expect(await row.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100');
    await screenshot(list, 'task-list-running-en');
    await list.close();

    // A job queued behind it waits, says so, and can be taken out of the queue.
    const queuedId = await submitViaApi(portal.url, { job_name: 'Queued behind' }, planBytes({ passes: 1 }));
    const queued = await openTask(queuedId);
    await queued.getByText('Waiting in the queue for a free worker.').waitFor();
    // Its place in the queue (queue_position): the only task waiting.
    await queued.getByText('Next in line').waitFor();
    await queued.getByText('The log starts when a worker runs the job.').waitFor();
    await screenshot(queued, 'task-pending-en');
    await queued.getByRole('button', { name: 'Stop', exact: true }).click();
    await queued.getByText(/leaves the queue before it runs/).waitFor();
    await queued.getByRole('button', { name: 'Terminate' }).click();
    await until('the queued task CANCELLED', async () => (await badge(queued)) === 'Cancelled');
    expect((await apiTask(queuedId)).status).toBe('CANCELLED');
    await queued.close();

    // The dialog: Cancel has the focus, Escape closes it, focus returns to Stop.
    const stop = page.getByRole('button', { name: 'Stop', exact: true });
    expect(await page.getByRole('button', { name: 'Delete', exact: true }).count()).toBe(0);
    await stop.click();
    const dialog = page.getByRole('alertdialog', { name: 'Stop this job?' });
    await dialog.waitFor();
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
    await screenshot(page, 'confirm-stop-en', { fullPage: false });
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    // Focus returns in the dialog's close event, which the browser dispatches after hiding it.
    await expect.poll(() => stop.evaluate((el) => el === document.activeElement)).toBe(true);
    expect((await apiTask(id)).status).toBe('RUNNING');

    // In Chinese, from the keyboard: Enter opens, Tab reaches the confirm button, Enter confirms.
    await page.getByRole('button', { name: '中文', exact: true }).click();
    await page.getByRole('heading', { name: '进度' }).waitFor();
    await screenshot(page, 'task-running-zh');
    await page.setViewportSize({ width: 420, height: 900 });
    await screenshot(page, 'task-running-narrow-zh');
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.getByRole('button', { name: '停止', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('alertdialog', { name: '要停止这个任务吗？' }).waitFor();
    await screenshot(page, 'confirm-stop-zh', { fullPage: false });
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('终止');
    await page.keyboard.press('Enter');
    await until('CANCELLED in the page', async () => (await badge(page)) === '已取消', 20_000);
    expect((await apiTask(id)).status).toBe('CANCELLED');
    await until('the log to end', async () => (await page.locator('.log-state').textContent()) === '已结束');
    await page.close();
  });

  it('retries an ended job: the page opens the new task, which runs; the two link to each other', async () => {
    const plan = planBytes({ passes: 3, delay_ms: 200, exit: 3, stderr: 'Licence server not reachable' });
    const id = await submitViaApi(portal.url, { job_name: 'Retry me' }, plan);
    const page = await openTask(id);
    await until('FAILURE', async () => (await badge(page)) === 'Failure', 20_000);
    await page.getByRole('button', { name: 'Retry', exact: true }).click();
    await page.getByRole('alertdialog', { name: 'Run this job again?' }).waitFor();
    await screenshot(page, 'confirm-retry-en', { fullPage: false });
    await page.getByRole('button', { name: 'Queue a new run' }).click();

    const newId = await until('the new task page', async () => {
      const match = TASK_ID.exec(decodeURIComponent(new URL(page.url()).hash));
      return match && match[0] !== id ? match[0] : undefined;
    });
    await page.getByText(`Task ID: ${newId}`).waitFor();
    await page
      .locator('.task-meta')
      .getByRole('link', { name: id.slice(0, 8) })
      .waitFor();
    await until('the retry to run', async () => (await logText(page)).includes('Pass 1/3'), 20_000);
    await until('the retry to end', async () => (await badge(page)) === 'Failure', 20_000);
    await screenshot(page, 'task-retry-en');
    const retried = await apiTask(newId);
    expect(retried).toMatchObject({ parent_task_id: id, job_name: 'Retry me' });
    expect((retried.status_history as { status: string }[]).map((c) => c.status)).toContain('RUNNING');
    expect((await apiTask(id)).retried_task_ids).toEqual([newId]);

    await page
      .locator('.task-meta')
      .getByRole('link', { name: id.slice(0, 8) })
      .click();
    await page.getByText(`Task ID: ${id}`).waitFor();
    await page
      .locator('.task-meta')
      .getByRole('link', { name: newId.slice(0, 8) })
      .waitFor();
    await page.close();
  });

  it('deletes a task after a confirmation and goes back to the list', async () => {
    const id = await submitViaApi(portal.url, { job_name: 'Delete me' }, planBytes({ passes: 1, delay_ms: 10 }));
    const page = await openTask(id);
    await until('SUCCESS', async () => (await badge(page)) === 'Success', 20_000);
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('alertdialog', { name: 'Delete this task?' }).waitFor();
    await screenshot(page, 'confirm-delete-en', { fullPage: false });
    await page.getByRole('button', { name: 'Remove permanently' }).click();
    await until('the list', async () => new URL(page.url()).hash === '#/tasks');
    await page.getByRole('heading', { name: 'Tasks', exact: true }).waitFor();
    await page.locator('.tasks-table tbody tr').first().waitFor();
    expect(await page.getByRole('row', { name: /Delete me/ }).count()).toBe(0);
    expect((await api(`/tasks/${id}`)).status).toBe(404);
    await page.close();
  });
});

describe.skipIf(reason !== undefined)('task page with a worker and auth on', () => {
  const TOKEN = 'e2e-worker-token-0123456789';
  let portal: TestPortal;
  let browser: Browser;

  beforeAll(async () => {
    portal = await startTestPortal({
      WEB_DIR: WEB_DIST,
      AUTH_TOKENS: `${TOKEN}:alice`,
      SPEOS_COMMAND_V252: `${process.execPath} ${FAKE} {master} -t {thread_count} -p {priority}`,
    });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await portal?.close();
  });

  it('tails the log and downloads outputs with the bearer token (a link cannot send it)', async () => {
    const id = await submitViaApi(
      portal.url,
      { job_name: 'Behind a token' },
      planBytes({ passes: 2, delay_ms: 50, outputs: { 'sub dir/result.xmp': XMP } }),
      TOKEN,
    );
    const page = await browser.context.newPage();
    await page.addInitScript((token) => localStorage.setItem('speos_portal_token', token), TOKEN);
    await page.goto(`${portal.url}/#/tasks/${id}`);
    await page.getByRole('button', { name: 'English', exact: true }).click();
    await until('SUCCESS', async () => (await badge(page)) === 'Success', 20_000);
    await until('the log', async () => (await logText(page)).includes('Pass 2/2'));

    // With auth on, downloads are buttons that fetch with the token, not bare links.
    const one = page.getByRole('button', { name: 'Download sub dir/result.xmp' });
    const [download] = await Promise.all([page.waitForEvent('download'), one.click()]);
    expect(download.suggestedFilename()).toBe('result.xmp');
    expect((await readFile((await download.path())!)).equals(Buffer.from(XMP))).toBe(true);
    const [zip] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download all', exact: true }).click(),
    ]);
    expect(zip.suggestedFilename()).toBe('Behind a token-outputs.zip');
    expect((await readFile((await zip.path())!)).subarray(0, 2).toString()).toBe('PK');
    // The same link without the token is refused.
    expect((await fetch(`${portal.url}/tasks/${id}/outputs.zip`)).status).toBe(401);
    await page.close();
  });
});
