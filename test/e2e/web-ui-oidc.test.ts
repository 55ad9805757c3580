/**
 * Company sign-in in a real Chromium against a real OpenID provider (oidc-provider on a local
 * port, started once for this file) and a real portal: people sign in and out, see only their
 * own tasks, an admin sees everyone's; a token made in the UI works with the CLI until it is
 * revoked; `speos-portal login` is approved on the UI's page; a cross-site POST carrying the
 * session cookie is refused. Needs the built UI and CLI (npm test builds them) and Chromium.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli, startCli, waitFor } from '@speos-portal/test-support/cli.js';
import { startTestProvider, type TestProvider } from '@speos-portal/test-support/oidc-provider.js';
import { freePort, startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, launchBrowser, MiB, makeFile, screenshot, skipReason, WEB_DIST } from './support.js';

const reason = skipReason();

describe.skipIf(reason !== undefined)('web UI with company sign-in (OIDC)', () => {
  let provider: TestProvider;
  let portal: TestPortal;
  let browser: Browser;
  let files: string;
  let page: Page;

  beforeAll(async () => {
    files = await mkdtemp(path.join(tmpdir(), 'speos-e2e-oidc-'));
    const port = await freePort();
    provider = await startTestProvider([`http://127.0.0.1:${port}`]);
    portal = await startTestPortal(
      { WEB_DIR: WEB_DIST, ...provider.env(''), ADMIN_USERS: 'nobody@example.com' },
      { port },
    );
    browser = await launchBrowser();
    page = await browser.context.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await portal?.close();
    await provider?.close();
    if (files) await rm(files, { recursive: true, force: true });
  });

  /** From wherever the page is, through the provider's sign-in form, back to `hash`. */
  async function signInAs(login: string, hash = '#/submit'): Promise<void> {
    await page.goto(`${portal.url}/${hash}`);
    await page.waitForURL((url) => url.origin === provider.issuer);
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.waitForURL(`${portal.url}/${hash}`);
  }

  /** Sign out here and at the provider (its confirmation page), then back at the portal's start. */
  async function signOut(): Promise<void> {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    // Back at the portal, nobody is signed in: off to the provider's sign-in form again.
    await page.locator('input[name="login"]').waitFor();
    const me = await (await fetch(`${portal.url}/auth/me`, { headers: { cookie: await cookieHeader() } })).json();
    expect(me.user).toBeNull();
  }

  async function cookieHeader(): Promise<string> {
    const cookies = await browser.context.cookies(portal.url);
    return cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  }

  async function submitJob(jobName: string): Promise<void> {
    await page.goto(`${portal.url}/#/submit`);
    await page.getByLabel('Master file').setInputFiles(await makeFile(files, `${jobName}.speos`, 1 * MiB));
    await page.getByLabel('Job name').fill(jobName);
    await page.getByRole('button', { name: 'Submit', exact: true }).click();
    await page.getByText(/Submitted — task /).waitFor({ timeout: 60_000 });
  }

  async function listedJobs(): Promise<string[]> {
    await page.goto(`${portal.url}/#/tasks`);
    await page.locator('.tasks-table tbody tr').first().waitFor();
    await page.locator('.tasks-table[aria-busy="false"]').waitFor();
    return page.locator('.tasks-table .job-link').allTextContents();
  }

  it('signs Alice in at the provider and back to the page she asked for; she sees only her own tasks; signs out', async () => {
    await signInAs('alice', '#/tasks');
    await page.getByText('Alice Anders').waitFor();
    await screenshot(page, 'oidc-signed-in');
    await submitJob('Alice headlamp');
    expect(await listedJobs()).toEqual(['Alice headlamp']);
    expect(await page.getByRole('columnheader', { name: 'Owner' }).count()).toBe(0);
    await signOut();
  });

  it('refuses a replayed sign-in answer and one with a forged state', async () => {
    const callbacks: string[] = [];
    const watch = (request: { url(): string }) => {
      if (request.url().startsWith(`${portal.url}/auth/callback`)) callbacks.push(request.url());
    };
    page.on('request', watch);
    await signInAs('alice', '#/tasks');
    page.off('request', watch);
    expect(callbacks).toHaveLength(1);
    const replay = await page.goto(callbacks[0]!);
    expect(replay?.status()).toBe(400);
    await page.getByRole('heading', { name: 'Sign-in failed' }).waitFor();
    await page.getByText('LOGIN_FAILED').waitFor();
    const forged = new URL(callbacks[0]!);
    forged.searchParams.set('state', 'forged');
    expect((await page.goto(forged.toString()))?.status()).toBe(400);
    await screenshot(page, 'oidc-callback-refused');
    await page.goto(`${portal.url}/#/tasks`);
    await signOut();
  });

  it('signs Bob in: he does not see Alice’s task; a token he creates in the UI works with the CLI until revoked', async () => {
    await signInAs('bob');
    await submitJob('Bob taillight');
    expect(await listedJobs()).toEqual(['Bob taillight']);

    await page.getByRole('link', { name: 'API tokens' }).click();
    await page.getByLabel('Token name').fill('ci runner');
    await page.getByLabel('Expires').selectOption({ label: 'In 30 days' });
    await page.getByRole('button', { name: 'Create token' }).click();
    const secretBox = page.getByRole('textbox', { name: 'Your new token' });
    await secretBox.waitFor();
    const token = await secretBox.inputValue();
    expect(token).toMatch(/^spt_[0-9A-Za-z]{40}$/);
    await page.getByRole('cell', { name: 'ci runner', exact: true }).waitFor();
    await screenshot(page, 'oidc-api-tokens');

    const env = { SPEOS_PORTAL_URL: portal.url, SPEOS_PORTAL_TOKEN: token };
    const listed = await runCli(['tasks', 'list', '--json'], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).items.map((t: { job_name: string }) => t.job_name)).toEqual(['Bob taillight']);

    await page.getByRole('button', { name: 'Revoke ci runner' }).click();
    await page.getByRole('alertdialog', { name: 'Revoke this token?' }).getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('cell', { name: 'ci runner', exact: true }).waitFor({ state: 'detached' });
    const refused = await runCli(['tasks', 'list'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/requires a valid token.*unknown, revoked or expired/);
  });

  it('approves `speos-portal login` on the page its address opens', async () => {
    const config = path.join(files, 'cli-config.json');
    const login = startCli(['login', '--server', portal.url, '--name', 'Bob laptop'], { SPEOS_PORTAL_CONFIG: config });
    await waitFor(() => /code [A-Z]{4}-[A-Z]{4}/.test(login.stdout()), 20_000, 'the address and code');
    const address = /open (\S+)/.exec(login.stdout())![1]!;
    const code = /code ([A-Z]{4}-[A-Z]{4})/.exec(login.stdout())![1]!;
    await page.goto(address);
    await page.getByText(code).waitFor();
    await page.getByText('Bob laptop asks to act as you.').waitFor();
    await screenshot(page, 'oidc-approve-cli');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByText('Approved. Go back to the terminal').waitFor();
    const { code: exit } = await login.exited;
    expect(exit, login.stderr()).toBe(0);
    const listed = await runCli(['tasks', 'list', '--json'], { SPEOS_PORTAL_CONFIG: config });
    expect(JSON.parse(listed.stdout).items.map((t: { job_name: string }) => t.job_name)).toEqual(['Bob taillight']);
  });

  it('refuses a cross-site POST that carries the session cookie', async () => {
    const before = (await (await fetch(`${portal.url}/tasks`, { headers: { cookie: await cookieHeader() } })).json())
      .total;
    // Another origin on the same host (so SameSite=Lax still sends the cookie: the Origin check
    // must refuse) and another site (localhost vs 127.0.0.1: the cookie is not even sent).
    const evilPort = await freePort();
    const evil: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(
        `<form method="post" action="${portal.url}/tasks/upload/multipart/init" enctype="text/plain">` +
          `<input name='{"filename":"evil.speos","file_size":10,"x":"' value='"}'><button>go</button></form>`,
      );
    });
    await new Promise<void>((resolve) => evil.listen(evilPort, '127.0.0.1', resolve));
    try {
      for (const [origin, status, code] of [
        [`http://127.0.0.1:${evilPort}`, 403, 'CSRF_REJECTED'],
        [`http://localhost:${evilPort}`, 401, 'UNAUTHENTICATED'],
      ] as const) {
        await page.goto(`${origin}/`);
        await page.getByRole('button', { name: 'go' }).click();
        await page.waitForURL(`${portal.url}/tasks/upload/multipart/init`);
        const body = JSON.parse((await page.locator('body').textContent()) ?? '{}');
        expect(body.code, origin).toBe(code);
        expect(status).toBe(code === 'CSRF_REJECTED' ? 403 : 401);
      }
    } finally {
      evil.close();
    }
    const after = (await (await fetch(`${portal.url}/tasks`, { headers: { cookie: await cookieHeader() } })).json())
      .total;
    expect(after).toBe(before);
    await page.goto(`${portal.url}/#/tasks`);
    await signOut();
  });

  it('shows an admin (OIDC_ADMIN_GROUPS) everyone’s tasks with their owners, and filters by owner', async () => {
    await signInAs('carol', '#/tasks');
    await page.getByText('admin', { exact: true }).waitFor();
    expect((await listedJobs()).sort()).toEqual(['Alice headlamp', 'Bob taillight']);
    await page.getByRole('columnheader', { name: 'Owner' }).waitFor();
    // The owner column (the submitter column beside it also says the name: it defaults to it).
    expect(await page.locator('.owner-cell').allTextContents()).toEqual(
      expect.arrayContaining(['Alice Anders', 'Bob Berg']),
    );
    await page.locator('.owner-cell[title="alice@example.com"]').first().waitFor();
    await screenshot(page, 'oidc-admin-tasks');
    await page.getByLabel('Owner').selectOption({ label: 'Alice Anders (alice@example.com)' });
    await page.waitForFunction(() => document.querySelectorAll('.tasks-table .job-link').length === 1);
    expect(await page.locator('.tasks-table .job-link').allTextContents()).toEqual(['Alice headlamp']);
    await signOut();
  });
});
