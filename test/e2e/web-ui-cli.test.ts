/**
 * The web UI's "Command-line tool" page in real Chromium: the download for the visitor's OS
 * (from the user agent), the others, the first commands in that OS's shell, this portal's URL.
 * The npm tarball is the real one (scripts/package-cli.mjs --tarball-only); the executables are
 * stand-in files of random bytes, as building them takes a minute (CI runs the real ones in
 * scripts/test-cli-dist.mjs): the page only offers and serves them.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, launchBrowser, skipReason, WEB_DIST } from './support.js';

const reason = skipReason();
if (reason) console.warn(`command-line tool page test skipped: ${reason}`);

const AGENTS = {
  windows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36',
  macos:
    'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36',
};

describe.skipIf(reason !== undefined)('the "Command-line tool" page', () => {
  let dir: string;
  let portal: TestPortal;
  let browser: Browser;
  const linux = randomBytes(64 * 1024);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'speos-cli-page-'));
    const script = fileURLToPath(new URL('../../scripts/package-cli.mjs', import.meta.url));
    await promisify(execFile)(process.execPath, [script, '--tarball-only', '--out', dir]);
    await writeFile(path.join(dir, 'speos-portal-linux-x64'), linux);
    await writeFile(path.join(dir, 'speos-portal-win-x64.exe'), randomBytes(1000));
    portal = await startTestPortal({ WEB_DIR: WEB_DIST, CLI_DOWNLOADS_DIR: dir });
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await portal?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function open(userAgent?: string): Promise<Page> {
    const page = await browser.context.newPage();
    if (userAgent) {
      await page.addInitScript((agent) => {
        Object.defineProperty(navigator, 'userAgent', { get: () => agent });
      }, userAgent);
    }
    await page.goto(`${portal.url}/`);
    await page.getByRole('link', { name: 'Command-line tool' }).click();
    await page.getByRole('heading', { name: 'Command-line tool' }).waitFor();
    return page;
  }

  it('Linux: offers the Linux executable, which downloads byte for byte; commands for a POSIX shell', async () => {
    const page = await open(); // Chromium on Linux
    const main = page.getByRole('link', { name: 'Download for Linux' });
    expect(await main.getAttribute('href')).toBe(`${portal.url}/downloads/speos-portal-linux-x64`);
    const [download] = await Promise.all([page.waitForEvent('download'), main.click()]);
    expect(download.suggestedFilename()).toBe('speos-portal-linux-x64');
    expect((await readFile((await download.path())!)).equals(linux)).toBe(true);
    const commands = await page.locator('pre.cli-commands').allInnerTexts();
    expect(commands[0]).toBe(
      'chmod +x speos-portal-linux-x64\n./speos-portal-linux-x64 --help\n./speos-portal-linux-x64 upload model.speos --job-name headlamp\n./speos-portal-linux-x64 tasks list',
    );
    expect(commands[1]).toContain(`export SPEOS_PORTAL_URL=${portal.url}\nexport SPEOS_PORTAL_TOKEN=<token>`);
    // The others: Windows and the npm package.
    const others = await page.locator('.cli-others li').allInnerTexts();
    expect(others.map((line) => line.split(' ')[0])).toEqual(['speos-portal-win-x64.exe', 'speos-portal-cli.tgz']);
    await page.close();
  });

  it('Windows: the .exe and PowerShell commands', async () => {
    const page = await open(AGENTS.windows);
    const main = page.getByRole('link', { name: 'Download for Windows' });
    expect(await main.getAttribute('href')).toBe(`${portal.url}/downloads/speos-portal-win-x64.exe`);
    const commands = await page.locator('pre.cli-commands').allInnerTexts();
    expect(commands[0]).toContain('.\\speos-portal-win-x64.exe --help');
    expect(commands[0]).not.toContain('chmod');
    expect(commands[1]).toContain(`$env:SPEOS_PORTAL_URL = "${portal.url}"`);
    await page.close();
  });

  it('macOS without an executable here: the npm package, saying it needs Node.js', async () => {
    const page = await open(AGENTS.macos);
    const main = page.getByRole('link', { name: 'Download for macOS' });
    expect(await main.getAttribute('href')).toBe(`${portal.url}/downloads/speos-portal-cli.tgz`);
    await page.getByText('the npm package needs Node.js 22 or later').waitFor();
    const commands = await page.locator('pre.cli-commands').allInnerTexts();
    expect(commands[0]).toMatch(/^npm install -g \.\/speos-portal-cli\.tgz\nspeos-portal --help\n/);
    await page.close();
  });
});
