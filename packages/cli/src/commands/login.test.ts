/**
 * `speos-portal login` / `logout` (the built CLI) against a real portal signed in through a
 * real OpenID provider (oidc-provider on a local port). The approval that a person gives in
 * the browser is made here over HTTP with a real session (test/e2e/web-ui-oidc.test.ts does
 * it in Chromium). Needs `npm run build` (npm test does it).
 */
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { runCli, startCli, waitFor } from '@speos-portal/test-support/cli.js';
import { startTestProvider, type TestProvider } from '@speos-portal/test-support/oidc-provider.js';
import { freePort, startTestPortal, type TestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { asBrowser, signIn } from '@speos-portal/test-support/sign-in.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let provider: TestProvider;
let portal: TestPortal;
let dir: string;

beforeAll(async () => {
  dir = await tempDir('speos-cli-login-');
  const port = await freePort();
  provider = await startTestProvider([`http://127.0.0.1:${port}`]);
  portal = await startTestPortal(provider.env(''), { port });
});
afterAll(async () => {
  await portal?.close();
  await provider?.close();
  await rm(dir, { recursive: true, force: true });
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('speos-portal login', () => {
  it('prints a code, waits for the approval in the browser, saves the token 0600; tasks use it; logout revokes it', async () => {
    const config = path.join(dir, 'device', 'config.json');
    const env = { SPEOS_PORTAL_CONFIG: config };
    const login = startCli(['login', '--server', `${portal.url}/`, '--name', 'test laptop'], env);
    await waitFor(() => /code ([A-Z]{4}-[A-Z]{4})/.test(login.stdout()), 20_000, 'the code');
    const code = /code ([A-Z]{4}-[A-Z]{4})/.exec(login.stdout())![1]!;
    expect(login.stdout()).toContain(`${portal.url}/auth/device?code=${code}`);
    const alice = await signIn(portal.url, 'alice');
    expect((await asBrowser(alice, portal.url, 'POST', `/auth/device/${code}/approve`)).status).toBe(204);
    const { code: exit } = await login.exited;
    expect(exit, login.stderr()).toBe(0);
    expect(login.stderr()).toContain(`Logged in to ${portal.url} as Alice Anders (alice@example.com)`);

    expect((await stat(config)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(config))).mode & 0o777).toBe(0o700);
    const saved = JSON.parse(await readFile(config, 'utf8'));
    expect(saved.server).toBe(portal.url);
    const token = saved.logins[portal.url].token as string;
    expect(token).toMatch(/^spt_/);
    const tokens = (await asBrowser(alice, portal.url, 'GET', '/auth/tokens')).body.items;
    expect(tokens.map((t: { name: string }) => t.name)).toContain('test laptop');

    // Later commands find the portal and the token on their own.
    const list = await runCli(['tasks', 'list', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toMatchObject({ total: 0 });

    const logout = await runCli(['logout'], env);
    expect(logout.code, logout.stderr).toBe(0);
    expect(logout.stderr).toContain('the token was revoked');
    expect((await fetch(`${portal.url}/tasks`, { headers: bearer(token) })).status).toBe(401);
    expect(JSON.parse(await readFile(config, 'utf8'))).toEqual({ logins: {} });
    const after = await runCli(['tasks', 'list', '--server', portal.url], env);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/requires a valid token \(speos-portal login/);
    expect((await runCli(['logout', '--server', portal.url], env)).stderr).toContain('Not logged in');
  });

  it('says so when the person denies it in the browser', async () => {
    const env = { SPEOS_PORTAL_CONFIG: path.join(dir, 'denied', 'config.json') };
    const login = startCli(['login', '--server', portal.url], env);
    await waitFor(() => /code ([A-Z]{4}-[A-Z]{4})/.test(login.stdout()), 20_000, 'the code');
    const code = /code ([A-Z]{4}-[A-Z]{4})/.exec(login.stdout())![1]!;
    const bob = await signIn(portal.url, 'bob');
    expect((await asBrowser(bob, portal.url, 'POST', `/auth/device/${code}/deny`)).status).toBe(204);
    const { code: exit } = await login.exited;
    expect(exit).toBe(1);
    expect(login.stderr()).toMatch(/^speos-portal login: The sign-in was denied in the browser\. \(LOGIN_DENIED\)\n$/m);
    await expect(stat(env.SPEOS_PORTAL_CONFIG)).rejects.toThrow(/ENOENT/);
  });

  it('--with-token reads a token from stdin, checks it with the portal and saves it', async () => {
    const env = { SPEOS_PORTAL_CONFIG: path.join(dir, 'stdin', 'config.json') };
    const bob = await signIn(portal.url, 'bob');
    const created = await asBrowser(bob, portal.url, 'POST', '/auth/tokens', { name: 'pasted' });
    const bad = await runCli(['login', '--with-token', '--server', portal.url], env, `spt_${'x'.repeat(40)}\n`);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/does not accept this token/);
    await expect(stat(env.SPEOS_PORTAL_CONFIG)).rejects.toThrow(/ENOENT/);
    const empty = await runCli(['login', '--with-token', '--server', portal.url], env, '\n');
    expect(empty.code).toBe(2);

    const good = await runCli(['login', '--with-token', '--server', portal.url], env, `${created.body.token}\n`);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stderr).toContain('as Bob Berg (bob@example.com)');
    expect((await stat(env.SPEOS_PORTAL_CONFIG)).mode & 0o777).toBe(0o600);
    const me = await runCli(['tasks', 'list'], env);
    expect(me.code, me.stderr).toBe(0);
  });

  it('explains what to do on a portal without company sign-in, and refuses bad options', async () => {
    const open = await startTestPortal({ AUTH_TOKENS: 'operator-token-0123456789:ops' });
    try {
      const env = { SPEOS_PORTAL_CONFIG: path.join(dir, 'open', 'config.json') };
      const result = await runCli(['login', '--server', open.url], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /has no company sign-in; ask its operator for a token and run speos-portal login --with-token/,
      );
      const pasted = await runCli(['login', '--with-token', '--server', open.url], env, 'operator-token-0123456789');
      expect(pasted.code, pasted.stderr).toBe(0);
      expect(pasted.stderr).toContain('as ops');
      const logout = await runCli(['logout'], env);
      expect(logout.stderr).toContain('it is not a personal token');
    } finally {
      await open.close();
    }
    expect((await runCli(['login', '--bogus'])).code).toBe(2);
    expect((await runCli(['login', '--with-token', '--name', 'x'])).code).toBe(2);
    expect((await runCli(['login', '--help'])).stdout).toContain('Usage: speos-portal login');
  });
});
