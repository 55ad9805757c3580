/**
 * Sign-in against a real OpenID provider (oidc-provider on a local port), over HTTP:
 * sessions, who sees which tasks, admins, personal API tokens, `speos-portal login`'s
 * device flow, forged and replayed callbacks, and cross-site changes made with the cookie.
 * Runs on SQLite, and on PostgreSQL when PG_TEST_URL is set. The browser flow is in
 * test/e2e/web-ui-oidc.test.ts.
 */
import { createHash } from 'node:crypto';
import { RETRY_AFTER_SECONDS } from '@speos-portal/protocol';
import { startTestProvider, type TestProvider } from '@speos-portal/test-support/oidc-provider.js';
import { freePort, startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { createPgDatabase, pgTestUrl, type TestDatabase } from '@speos-portal/test-support/services.js';
import { asBrowser, authorizeAtProvider, CookieJar, signIn, step } from '@speos-portal/test-support/sign-in.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOGIN_COOKIE, SESSION_COOKIE } from './login-flows.js';

const AUTOMATION_TOKEN = 'automation-token-0123456789';
const pgServer = pgTestUrl('sign-in on PostgreSQL');
const kinds = pgServer ? (['sqlite', 'postgres'] as const) : (['sqlite'] as const);

let provider: TestProvider;
const ports = new Map<string, number>();

beforeAll(async () => {
  for (const kind of kinds) ports.set(kind, await freePort());
  provider = await startTestProvider([...ports.values()].map((p) => `http://127.0.0.1:${p}`));
});
afterAll(async () => {
  await provider?.close();
});

/** A caller with a session cookie or a bearer token. */
type Caller = { jar: CookieJar } | { token: string };

describe.each(kinds)('sign-in on %s', (kind) => {
  let portal: TestPortal;
  let database: TestDatabase | undefined;
  let now = Date.now();
  const clock = () => now;

  const call = async (who: Caller, method: string, path: string, body?: unknown) => {
    if ('jar' in who) return asBrowser(who.jar, portal.url, method, path, body);
    const response = await fetch(`${portal.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${who.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };

  /** init → PUT → complete → confirm as `who`; returns the task id. */
  const submit = async (who: Caller, jobName: string): Promise<string> => {
    const data = Buffer.from(`model of ${jobName}`);
    const init = await call(who, 'POST', '/tasks/upload/multipart/init', {
      filename: `${jobName}.speos`,
      file_size: data.length,
    });
    expect(init.status, JSON.stringify(init.body)).toBe(200);
    const put = await fetch(init.body.parts[0].upload_url, { method: 'PUT', body: data });
    const etag = put.headers.get('etag')!.replace(/"/g, '');
    const ref = { task_id: init.body.task_id, upload_id: init.body.upload_id, object_key: init.body.object_key };
    expect(
      (await call(who, 'POST', '/tasks/upload/multipart/complete', { ...ref, parts: [{ part_number: 1, etag }] }))
        .status,
    ).toBe(200);
    const confirm = await call(who, 'POST', '/tasks/upload/confirm', {
      task_id: ref.task_id,
      master_object_key: ref.object_key,
      job_name: jobName,
    });
    expect(confirm.status, JSON.stringify(confirm.body)).toBe(200);
    return ref.task_id;
  };

  const taskIds = async (who: Caller, query = '') =>
    ((await call(who, 'GET', `/tasks${query}`)).body.items as { task_id: string }[]).map((t) => t.task_id);

  beforeAll(async () => {
    let env: Record<string, string> = {};
    if (kind === 'postgres') {
      database = await createPgDatabase(pgServer!);
      env = { DATABASE_URL: database.url };
    }
    portal = await startTestPortal(
      { ...provider.env(''), AUTH_TOKENS: `${AUTOMATION_TOKEN}:robot`, ADMIN_USERS: 'bob@EXAMPLE.com', ...env },
      { port: ports.get(kind)!, clock },
    );
  });
  afterAll(async () => {
    await portal?.close();
    await database?.drop();
  });

  it('signs a person in: /auth/me names them from the claims, the owner is issuer + sub', async () => {
    const anonymous = await call({ jar: new CookieJar() }, 'GET', '/auth/me');
    expect(anonymous.body).toEqual({ user: null, auth_required: true, oidc: true, login_url: '/auth/login' });
    const alice = await signIn(portal.url, 'alice');
    const cookie = alice.get(portal.url, SESSION_COOKIE)!;
    expect(cookie).toBeTruthy();
    const me = await call({ jar: alice }, 'GET', '/auth/me');
    expect(me.body.user).toMatchObject({
      name: 'Alice Anders',
      email: 'alice@example.com',
      admin: false,
      via: 'session',
    });
    expect(me.body.user.id).toMatch(/^oidc:[0-9a-f]{32}$/);
    // The same person signing in again is the same owner.
    const again = await call({ jar: await signIn(portal.url, 'alice') }, 'GET', '/auth/me');
    expect(again.body.user.id).toBe(me.body.user.id);
  });

  it('signs a new person in from several browsers at once: one user, every session works (10 rounds)', async () => {
    for (let round = 0; round < 10; round++) {
      await portal.db.deleteFrom('users').where('email', '=', 'dave@example.com').execute();
      const jars = await Promise.all(Array.from({ length: 4 }, () => signIn(portal.url, 'dave')));
      const ids = await Promise.all(jars.map(async (jar) => (await call({ jar }, 'GET', '/auth/me')).body.user?.id));
      expect(new Set(ids).size, `round ${round}`).toBe(1);
      const rows = await portal.db
        .selectFrom('users')
        .select('user_id')
        .where('email', '=', 'dave@example.com')
        .execute();
      expect(rows).toHaveLength(1);
    }
  });

  it('sets the session cookie httpOnly and SameSite=Lax, and sends the person back to where they were', async () => {
    const jar = new CookieJar();
    const start = await step(jar, `${portal.url}/auth/login?return_to=${encodeURIComponent('/#/tasks/abc?x=1')}`);
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get('location')!);
    expect(authorize.origin).toBe(provider.issuer);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${portal.url}/auth/callback`);
    expect(start.headers.getSetCookie().join()).toMatch(new RegExp(`${LOGIN_COOKIE}=.*HttpOnly.*SameSite=Lax`, 'i'));
    const callback = await authorizeAtProvider(jar, authorize.toString(), 'alice');
    const done = await step(jar, callback);
    expect(done.status).toBe(302);
    expect(done.headers.get('location')).toBe(`${portal.url}/#/tasks/abc?x=1`);
    const set = done.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`))!;
    expect(set).toMatch(/HttpOnly/i);
    expect(set).toMatch(/SameSite=Lax/i);
    expect(set).not.toMatch(/Secure/i); // PUBLIC_URL is http here; https adds Secure (config test)
  });

  it.each([
    ['https://evil.example/'],
    ['//evil.example/x'],
    ['/\\evil.example'],
    ['/\t/evil.example'],
    ['javascript:alert(1)'],
    ['tasks'],
  ])('refuses return_to %j (no open redirect)', async (returnTo) => {
    const response = await fetch(`${portal.url}/auth/login?return_to=${encodeURIComponent(returnTo)}`, {
      redirect: 'manual',
    });
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('shows each person only their own tasks; others are 404; an admin sees and acts on all, with owners', async () => {
    const alice = { jar: await signIn(portal.url, 'alice') };
    const bob = { jar: await signIn(portal.url, 'bob') }; // admin through ADMIN_USERS (email, any case)
    const dave = { jar: await signIn(portal.url, 'carol') }; // admin through the groups claim
    const robot = { token: AUTOMATION_TOKEN };
    const aliceTask = await submit(alice, `alice-job-${kind}`);
    const robotTask = await submit(robot, `robot-job-${kind}`);
    const aliceId = (await call(alice, 'GET', '/auth/me')).body.user.id;

    expect(await taskIds(alice)).toContain(aliceTask);
    expect(await taskIds(alice)).not.toContain(robotTask);
    expect(await taskIds(robot)).toEqual([robotTask]);
    expect((await call(robot, 'GET', `/tasks/${aliceTask}`)).status).toBe(404);
    expect((await call(robot, 'POST', `/tasks/${aliceTask}/stop`)).status).toBe(404);
    expect((await call(robot, 'DELETE', `/tasks/${aliceTask}`)).status).toBe(404);
    // A non-admin's owner filter cannot reach further than their own tasks.
    expect(await taskIds(robot, `?owner=${encodeURIComponent(aliceId)}`)).toEqual([]);
    expect((await call(alice, 'GET', '/tasks')).body.items[0].owner).toBeUndefined();
    expect((await call(alice, 'GET', '/admin/owners')).status).toBe(403);

    for (const admin of [bob, dave]) {
      const all = (await call(admin, 'GET', '/tasks')).body.items as { task_id: string; owner: unknown }[];
      expect(all.map((t) => t.task_id)).toEqual(expect.arrayContaining([aliceTask, robotTask]));
      expect(all.find((t) => t.task_id === aliceTask)!.owner).toEqual({
        id: aliceId,
        name: 'Alice Anders',
        email: 'alice@example.com',
      });
      expect(all.find((t) => t.task_id === robotTask)!.owner).toEqual({ id: 'robot', name: 'robot', email: null });
      expect(await taskIds(admin, `?owner=${encodeURIComponent(aliceId)}`)).toEqual(
        (await taskIds(alice)).filter(Boolean),
      );
      expect((await call(admin, 'GET', `/tasks/${aliceTask}/detail`)).body.owner.name).toBe('Alice Anders');
    }
    const owners = (await call(bob, 'GET', '/admin/owners')).body.items as { id: string; name: string }[];
    expect(owners).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: aliceId, name: 'Alice Anders' }),
        expect.objectContaining({ id: 'robot', name: 'robot', task_count: 1 }),
      ]),
    );

    // An admin stops, retries and deletes another's task; the retry stays the owner's.
    expect((await call(bob, 'POST', `/tasks/${aliceTask}/stop`)).body.status).toBe('CANCELLED');
    const retry = await call(bob, 'POST', `/tasks/${aliceTask}/retry`, {});
    expect(retry.status).toBe(200);
    expect(await taskIds(alice)).toContain(retry.body.new_task_id);
    expect((await call(bob, 'POST', `/tasks/${retry.body.new_task_id}/stop`)).status).toBe(200);
    expect((await call(bob, 'DELETE', `/tasks/${retry.body.new_task_id}`)).status).toBe(204);
    expect((await call(alice, 'GET', `/tasks/${retry.body.new_task_id}`)).status).toBe(404);
  });

  it('ADMIN_USERS also names AUTH_TOKENS users; those have no personal tokens', async () => {
    expect((await call({ token: AUTOMATION_TOKEN }, 'GET', '/auth/me')).body.user).toEqual({
      id: 'robot',
      name: 'robot',
      email: null,
      admin: false,
      via: 'auth_token',
    });
    expect((await call({ token: AUTOMATION_TOKEN }, 'GET', '/auth/tokens')).body.code).toBe('FORBIDDEN');
  });

  it('creates, lists, uses and revokes personal API tokens; the secret is shown once and stored hashed', async () => {
    const jar = await signIn(portal.url, 'alice');
    const alice = { jar };
    const created = await call(alice, 'POST', '/auth/tokens', { name: 'build server', expires_in_days: 30 });
    expect(created.status).toBe(201);
    const secret = created.body.token as string;
    expect(secret).toMatch(/^spt_[0-9A-Za-z]{40}$/);
    expect(created.body).toMatchObject({ name: 'build server', last_used_at: null });
    expect(created.body.expires_at - Math.floor(now / 1000)).toBe(30 * 86400);
    const listed = (await call(alice, 'GET', '/auth/tokens')).body.items as Record<string, unknown>[];
    const mine = listed.find((t) => t.token_id === created.body.token_id)!;
    expect(mine).toMatchObject({ name: 'build server', hint: `${secret.slice(0, 8)}…${secret.slice(-4)}` });
    expect(JSON.stringify(listed)).not.toContain(secret);
    // The database holds only its sha256.
    const stored = await portal.db.selectFrom('api_tokens').selectAll().execute();
    expect(JSON.stringify(stored)).not.toContain(secret.slice(4));
    expect(stored.map((r) => r.token_hash)).toContain(createHash('sha256').update(secret).digest('hex'));

    const viaToken = { token: secret };
    const me = await call(viaToken, 'GET', '/auth/me');
    expect(me.body.user).toMatchObject({ name: 'Alice Anders', via: 'api_token' });
    const task = await submit(viaToken, `token-job-${kind}`);
    expect(await taskIds(alice)).toContain(task);
    const used = (await call(alice, 'GET', '/auth/tokens')).body.items.find(
      (t: { token_id: string }) => t.token_id === created.body.token_id,
    );
    expect(used.last_used_at).toBe(Math.floor(now / 1000));

    // A token cannot mint more tokens (a leaked one must not be able to outlive its revocation).
    expect((await call(viaToken, 'POST', '/auth/tokens', { name: 'x' })).body.code).toBe('FORBIDDEN');
    expect((await call(alice, 'DELETE', `/auth/tokens/${created.body.token_id}`)).status).toBe(204);
    const revoked = await call(viaToken, 'GET', '/tasks');
    expect(revoked.status).toBe(401);
    expect(revoked.body.code).toBe('UNAUTHENTICATED');
    expect((await call(alice, 'DELETE', `/auth/tokens/${created.body.token_id}`)).status).toBe(404);
    // Unknown tokens of the right shape, and of another shape, are both 401.
    expect((await call({ token: `spt_${'A'.repeat(40)}` }, 'GET', '/tasks')).status).toBe(401);
    expect((await call({ token: 'spt_short' }, 'GET', '/tasks')).status).toBe(401);
  });

  it('refuses bad token requests with a field-level 422', async () => {
    const alice = { jar: await signIn(portal.url, 'alice') };
    for (const body of [
      {},
      { name: '' },
      { name: '   ' },
      { name: 'x'.repeat(101) },
      { name: 'a', expires_in_days: 0 },
      { name: 'a', expires_in_days: 'soon' },
      { name: 'a', extra: 1 },
    ]) {
      const answer = await call(alice, 'POST', '/auth/tokens', body);
      expect(answer.status, JSON.stringify(body)).toBe(422);
      expect(answer.body.code).toBe('VALIDATION_FAILED');
    }
    expect((await call(alice, 'DELETE', '/auth/tokens/current')).status).toBe(422);
  });

  it('caps a person at 100 tokens (409 until one is revoked)', async () => {
    const jar = await signIn(portal.url, 'carol');
    const existing = (await call({ jar }, 'GET', '/auth/tokens')).body.items.length as number;
    for (let i = existing; i < 100; i++) {
      expect((await call({ jar }, 'POST', '/auth/tokens', { name: `t${i}` })).status).toBe(201);
    }
    const over = await call({ jar }, 'POST', '/auth/tokens', { name: 'one too many' });
    expect(over.status).toBe(409);
    expect(over.body).toMatchObject({ code: 'INVALID_STATE' });
    expect(over.body.detail).toMatch(/revoke/);
    const first = (await call({ jar }, 'GET', '/auth/tokens')).body.items[0].token_id;
    expect((await call({ jar }, 'DELETE', `/auth/tokens/${first}`)).status).toBe(204);
    expect((await call({ jar }, 'POST', '/auth/tokens', { name: 'room again' })).status).toBe(201);
  });

  it('an expired token is 401; `current` revokes the token a request is made with', async () => {
    const jar = await signIn(portal.url, 'bob');
    const short = (await call({ jar }, 'POST', '/auth/tokens', { name: 'one day', expires_in_days: 1 })).body.token;
    const other = (await call({ jar }, 'POST', '/auth/tokens', { name: 'cli' })).body.token;
    expect((await call({ token: short }, 'GET', '/tasks')).status).toBe(200);
    now += 86_400_000 + 1000;
    try {
      const expired = await call({ token: short }, 'GET', '/tasks');
      expect(expired.status).toBe(401);
      expect(expired.body.detail).toMatch(/expired/);
      expect((await call({ token: other }, 'GET', '/tasks')).status).toBe(200);
      expect((await call({ token: other }, 'DELETE', '/auth/tokens/current')).status).toBe(204);
      expect((await call({ token: other }, 'GET', '/tasks')).status).toBe(401);
    } finally {
      now = Date.now();
    }
  });

  it('ends a session at sign-out (the old cookie no longer works) and hands over to the provider', async () => {
    const jar = await signIn(portal.url, 'alice');
    const stolen = jar.get(portal.url, SESSION_COOKIE)!;
    const out = await call({ jar }, 'POST', '/auth/logout');
    expect(out.status).toBe(200);
    const redirect = new URL(out.body.redirect_url);
    expect(redirect.origin).toBe(provider.issuer);
    expect(redirect.searchParams.get('post_logout_redirect_uri')).toBe(`${portal.url}/`);
    expect(redirect.searchParams.get('id_token_hint')).toBeTruthy();
    expect(jar.get(portal.url, SESSION_COOKIE)).toBeUndefined();
    const replay = new CookieJar();
    replay.set(portal.url, SESSION_COOKIE, stolen);
    expect((await call({ jar: replay }, 'GET', '/tasks')).status).toBe(401);
    expect((await call({ jar: replay }, 'GET', '/auth/me')).body.user).toBeNull();
  });

  it('ends an idle session after SESSION_IDLE_MINUTES, and any session after SESSION_MAX_HOURS', async () => {
    const idle = await signIn(portal.url, 'alice');
    now += 479 * 60_000;
    try {
      expect((await call({ jar: idle }, 'GET', '/tasks')).status).toBe(200); // used: idle time starts again
      now += 479 * 60_000;
      expect((await call({ jar: idle }, 'GET', '/tasks')).status).toBe(200);
      now += 481 * 60_000;
      expect((await call({ jar: idle }, 'GET', '/tasks')).status).toBe(401);
    } finally {
      now = Date.now();
    }
    const busy = await signIn(portal.url, 'alice');
    try {
      for (let hour = 1; hour < 24; hour += 4) {
        now += 4 * 3_600_000;
        const answer = await call({ jar: busy }, 'GET', '/tasks');
        expect(answer.status, `after ${hour + 3} h`).toBe(hour + 3 < 24 ? 200 : 401);
      }
    } finally {
      now = Date.now();
    }
  });

  describe('the callback', () => {
    it('refuses a forged state, and a replayed callback, without a session', async () => {
      const jar = new CookieJar();
      const start = await step(jar, `${portal.url}/auth/login`);
      const callback = await authorizeAtProvider(jar, start.headers.get('location')!, 'alice');
      const forged = new URL(callback);
      forged.searchParams.set('state', 'forged-state');
      const refused = await step(jar, forged.toString(), { headers: { accept: 'application/json' } });
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ code: 'LOGIN_FAILED' });
      expect(jar.get(portal.url, SESSION_COOKIE)).toBeUndefined();

      const ok = await step(jar, callback);
      expect(ok.status).toBe(302);
      const session = jar.get(portal.url, SESSION_COOKIE);
      expect(session).toBeTruthy();
      // Replayed in the same browser (its sign-in was used up) and in a fresh one.
      const again = await step(jar, callback, { headers: { accept: 'application/json' } });
      expect(again.status).toBe(400);
      const elsewhere = new CookieJar();
      const replayed = await step(elsewhere, callback, { headers: { accept: 'text/html' } });
      expect(replayed.status).toBe(400);
      expect(await replayed.text()).toMatch(/Sign-in failed.*LOGIN_FAILED/s);
      expect(elsewhere.get(portal.url, SESSION_COOKIE)).toBeUndefined();
    });

    it("refuses a code issued to another sign-in (PKCE mismatch): an attacker's callback planted in a victim's browser", async () => {
      const attacker = new CookieJar();
      const attackerStart = await step(attacker, `${portal.url}/auth/login`);
      const attackerCallback = new URL(
        await authorizeAtProvider(attacker, attackerStart.headers.get('location')!, 'bob'),
      );
      const victim = new CookieJar();
      const victimStart = await step(victim, `${portal.url}/auth/login`);
      const victimState = new URL(victimStart.headers.get('location')!).searchParams.get('state')!;
      // The victim's state (so the state check passes), the attacker's code.
      attackerCallback.searchParams.set('state', victimState);
      const refused = await step(victim, attackerCallback.toString(), { headers: { accept: 'application/json' } });
      expect(refused.status).toBe(400);
      const body = await refused.json();
      expect(body.code).toBe('LOGIN_FAILED');
      expect(body.detail).toMatch(/invalid_grant|PKCE|verif/i);
      expect(victim.get(portal.url, SESSION_COOKIE)).toBeUndefined();
    });

    it('refuses an ID token whose nonce is not the one this browser sent', async () => {
      const jar = new CookieJar();
      const start = await step(jar, `${portal.url}/auth/login`);
      // Re-seal the sign-in cookie with another nonce (the test knows the key; an attacker does not).
      const app = portal.app as unknown as {
        decodeSecureSession(
          c: string,
          l: unknown,
          n: string,
        ): { get(k: string): unknown; set(k: string, v: unknown): void };
        encodeSecureSession(s: unknown, n: string): string;
      };
      const sealed = app.decodeSecureSession(
        decodeURIComponent(jar.get(portal.url, LOGIN_COOKIE)!),
        undefined,
        'loginFlows',
      )!;
      const flows = sealed.get('flows') as Record<string, { nonce: string }>;
      for (const flow of Object.values(flows)) flow.nonce = 'another-nonce';
      sealed.set('flows', flows);
      jar.set(portal.url, LOGIN_COOKIE, encodeURIComponent(app.encodeSecureSession(sealed, 'loginFlows')));
      const callback = await authorizeAtProvider(jar, start.headers.get('location')!, 'alice');
      const refused = await step(jar, callback, { headers: { accept: 'application/json' } });
      expect(refused.status).toBe(400);
      const body = await refused.json();
      expect(body.code).toBe('LOGIN_FAILED');
      expect(body.detail).toMatch(/nonce/i);
    });

    it('reports the provider refusing the sign-in', async () => {
      const jar = new CookieJar();
      const start = await step(jar, `${portal.url}/auth/login`);
      const state = new URL(start.headers.get('location')!).searchParams.get('state')!;
      const refused = await step(
        jar,
        `${portal.url}/auth/callback?error=access_denied&error_description=no+access&state=${state}&iss=${encodeURIComponent(provider.issuer)}`,
        { headers: { accept: 'application/json' } },
      );
      expect(refused.status).toBe(400);
      expect((await refused.json()).detail).toMatch(/access_denied/);
    });
  });

  describe('changes made with the cookie', () => {
    it('are refused from another origin, with no Origin, and with Origin null; allowed from the portal', async () => {
      const jar = await signIn(portal.url, 'alice');
      const body = { filename: 'x.speos', file_size: 10 };
      const refusedHeaders: Record<string, string>[] = [
        { origin: 'https://evil.example' },
        { origin: 'http://127.0.0.1.evil.example' },
        { origin: 'null' },
        {},
        { 'sec-fetch-site': 'cross-site' },
        { 'sec-fetch-site': 'same-site' },
      ];
      for (const headers of refusedHeaders) {
        const refused = await asBrowser(jar, portal.url, 'POST', '/tasks/upload/multipart/init', body, headers);
        expect(refused.status, JSON.stringify(headers)).toBe(403);
        expect(refused.body.code).toBe('CSRF_REJECTED');
      }
      // init makes unconfirmed uploads, which the list shows only when asked for by status.
      const uploading = '/tasks?status=UPLOADING';
      const before = (await asBrowser(jar, portal.url, 'GET', uploading)).body.total;
      expect(await taskIds({ jar }, '?status=UPLOADING')).toHaveLength(before > 20 ? 20 : before);
      const allowedHeaders: Record<string, string>[] = [{ origin: portal.url }, { 'sec-fetch-site': 'same-origin' }];
      for (const headers of allowedHeaders) {
        const allowed = await asBrowser(jar, portal.url, 'POST', '/tasks/upload/multipart/init', body, headers);
        expect(allowed.status, JSON.stringify(headers)).toBe(200);
      }
      expect((await asBrowser(jar, portal.url, 'GET', uploading)).body.total).toBe(before + 2);
      // Reads need no Origin; bearer tokens are not checked (browsers never send them on their own).
      expect((await asBrowser(jar, portal.url, 'GET', '/tasks', undefined, {})).status).toBe(200);
      const logout = await asBrowser(jar, portal.url, 'POST', '/auth/logout', undefined, {
        origin: 'https://evil.example',
      });
      expect(logout.status).toBe(403);
      expect((await asBrowser(jar, portal.url, 'GET', '/auth/me')).body.user).not.toBeNull();
    });
  });

  describe('speos-portal login (device flow)', () => {
    const startLogin = async () => {
      const response = await fetch(`${portal.url}/auth/device/code`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 'laptop' }),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as {
        device_code: string;
        user_code: string;
        verification_uri_complete: string;
        interval: number;
      };
    };
    const poll = async (deviceCode: string) => {
      const response = await fetch(`${portal.url}/auth/device/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ device_code: deviceCode }),
      });
      return { status: response.status, body: await response.json() };
    };

    it('issues a token to the CLI once the signed-in person approves its code, exactly once', async () => {
      const code = await startLogin();
      expect(code.user_code).toMatch(/^[B-DF-HJ-NP-TV-XZ]{4}-[B-DF-HJ-NP-TV-XZ]{4}$/);
      expect(code.verification_uri_complete).toBe(`${portal.url}/auth/device?code=${code.user_code}`);
      const page = await fetch(code.verification_uri_complete, { redirect: 'manual' });
      expect(page.headers.get('location')).toBe(`${portal.url}/#/device?code=${code.user_code}`);
      expect((await poll(code.device_code)).body.status).toBe('pending');
      expect((await poll(code.device_code)).body.status).toBe('slow_down');

      const alice = { jar: await signIn(portal.url, 'alice') };
      const info = await call(alice, 'GET', `/auth/device/${code.user_code.toLowerCase().replace('-', '')}`);
      expect(info.body).toMatchObject({ client_name: 'laptop' });
      // Approving needs the browser session: not an API token, not from another site.
      const other = (await call(alice, 'POST', '/auth/tokens', { name: 'x' })).body.token;
      expect((await call({ token: other }, 'POST', `/auth/device/${code.user_code}/approve`)).body.code).toBe(
        'FORBIDDEN',
      );
      expect(
        (
          await asBrowser(alice.jar, portal.url, 'POST', `/auth/device/${code.user_code}/approve`, undefined, {
            origin: 'https://evil.example',
          })
        ).body.code,
      ).toBe('CSRF_REJECTED');
      expect((await call(alice, 'POST', `/auth/device/${code.user_code}/approve`)).status).toBe(204);
      expect((await call(alice, 'POST', `/auth/device/${code.user_code}/approve`)).body.code).toBe(
        'LOGIN_CODE_INVALID',
      );

      // Several polls at once: one token, the others are told the request is finished.
      const answers = await Promise.all(Array.from({ length: 6 }, () => poll(code.device_code)));
      const issued = answers.filter((a) => a.status === 200);
      expect(issued).toHaveLength(1);
      expect(answers.filter((a) => a.status === 400).every((a) => a.body.code === 'LOGIN_CODE_INVALID')).toBe(true);
      expect(issued[0]!.body).toMatchObject({ status: 'approved', name: 'laptop', user: { name: 'Alice Anders' } });
      const me = await call({ token: issued[0]!.body.token }, 'GET', '/auth/me');
      expect(me.body.user).toMatchObject({ name: 'Alice Anders', via: 'api_token' });
      expect(
        (await call(alice, 'GET', '/auth/tokens')).body.items.some((t: { name: string }) => t.name === 'laptop'),
      ).toBe(true);
    });

    it('issues one token however many polls race an approval (20 rounds)', async () => {
      const alice = { jar: await signIn(portal.url, 'alice') };
      for (let round = 0; round < 20; round++) {
        const code = await startLogin();
        const [approved, ...polls] = await Promise.all([
          call(alice, 'POST', `/auth/device/${code.user_code}/approve`),
          ...Array.from({ length: 4 }, () => poll(code.device_code)),
        ]);
        expect(approved.status).toBe(204);
        const later = await Promise.all(Array.from({ length: 4 }, () => poll(code.device_code)));
        const tokens = [...polls, ...later].filter((a) => a.status === 200);
        expect(tokens, `round ${round}`).toHaveLength(1);
      }
    });

    it('tells the CLI when the person denied it, and refuses unknown or expired codes', async () => {
      const code = await startLogin();
      const bob = { jar: await signIn(portal.url, 'bob') };
      expect((await call(bob, 'POST', `/auth/device/${code.user_code}/deny`)).status).toBe(204);
      const denied = await poll(code.device_code);
      expect(denied.status).toBe(403);
      expect(denied.body.code).toBe('LOGIN_DENIED');
      expect((await poll(code.device_code)).body.code).toBe('LOGIN_CODE_INVALID');
      expect((await poll('no-such-code')).body.code).toBe('LOGIN_CODE_INVALID');
      expect((await call(bob, 'GET', '/auth/device/BCDF-GHJK')).body.code).toBe('LOGIN_CODE_INVALID');
      expect((await call(bob, 'GET', '/auth/device/AAAA-AAAA')).body.code).toBe('LOGIN_CODE_INVALID');
      const late = await startLogin();
      now += 11 * 60_000;
      try {
        expect((await call(bob, 'POST', `/auth/device/${late.user_code}/approve`)).body.code).toBe(
          'LOGIN_CODE_INVALID',
        );
        expect((await poll(late.device_code)).body.code).toBe('LOGIN_CODE_INVALID');
      } finally {
        now = Date.now();
      }
    });
  });
});

describe('sign-in settings at work', () => {
  it('marks the cookies Secure when PUBLIC_URL is https', async () => {
    const port = await freePort();
    const portal = await startTestPortal(
      { ...provider.env(''), PUBLIC_URL: `https://portal.example:${port}` },
      { port },
    );
    try {
      const start = await fetch(`${portal.url}/auth/login`, { redirect: 'manual' });
      expect(start.status).toBe(302);
      expect(new URL(start.headers.get('location')!).searchParams.get('redirect_uri')).toBe(
        `https://portal.example:${port}/auth/callback`,
      );
      expect(start.headers.getSetCookie().join()).toMatch(/speos_login=.*Secure/);
    } finally {
      await portal.close();
    }
  });

  it('starts while the provider is unreachable; sign-in answers 503 until it is back', async () => {
    const dead = await freePort();
    const portal = await startTestPortal({ ...provider.env(''), OIDC_ISSUER: `http://127.0.0.1:${dead}` });
    try {
      const start = await fetch(`${portal.url}/auth/login`, {
        redirect: 'manual',
        headers: { accept: 'application/json' },
      });
      expect(start.status).toBe(503);
      expect(start.headers.get('retry-after')).toBe(String(RETRY_AFTER_SECONDS));
      expect(await start.json()).toMatchObject({ code: 'IDENTITY_PROVIDER_UNAVAILABLE' });
      expect((await fetch(`${portal.url}/tasks`)).status).toBe(401);
      expect((await fetch(`${portal.url}/healthz`)).status).toBe(200);
    } finally {
      await portal.close();
    }
  });

  it('without OIDC has no sign-in routes to use, and an open portal stays open', async () => {
    const portal = await startTestPortal();
    try {
      expect(
        (await fetch(`${portal.url}/auth/login`, { redirect: 'manual', headers: { accept: 'application/json' } }))
          .status,
      ).toBe(404);
      const device = await fetch(`${portal.url}/auth/device/code`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(device.status).toBe(404);
      const me = await (await fetch(`${portal.url}/auth/me`)).json();
      expect(me).toEqual({ user: null, auth_required: false, oidc: false, login_url: null });
      expect((await fetch(`${portal.url}/tasks`)).status).toBe(200);
      expect((await fetch(`${portal.url}/admin/owners`)).status).toBe(403);
    } finally {
      await portal.close();
    }
  });
});
