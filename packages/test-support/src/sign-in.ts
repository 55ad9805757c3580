/**
 * Signs a person in over plain HTTP, as a browser would but without one: the portal's
 * /auth/login, the test provider's sign-in form, the callback. For server tests that need a
 * session cookie; the browser tests (test/e2e) go through the same pages in Chromium.
 */

/** Cookies by name for one origin, from Set-Cookie headers (enough for these two servers). */
export class CookieJar {
  readonly #cookies = new Map<string, Map<string, string>>();

  take(url: string, response: Response): void {
    const origin = new URL(url).origin;
    const jar = this.#cookies.get(origin) ?? new Map<string, string>();
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    this.#cookies.set(origin, jar);
  }

  header(url: string): string {
    const jar = this.#cookies.get(new URL(url).origin);
    return jar ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }

  get(url: string, name: string): string | undefined {
    return this.#cookies.get(new URL(url).origin)?.get(name);
  }

  set(url: string, name: string, value: string): void {
    const origin = new URL(url).origin;
    const jar = this.#cookies.get(origin) ?? new Map<string, string>();
    jar.set(name, value);
    this.#cookies.set(origin, jar);
  }
}

/** One request without following redirects, with and into the jar. */
export async function step(
  jar: CookieJar,
  url: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  const cookie = jar.header(url);
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    redirect: 'manual',
    headers: { ...(cookie ? { cookie } : {}), ...init.headers },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  jar.take(url, response);
  return response;
}

function location(response: Response, base: string): string {
  const to = response.headers.get('location');
  if (!to) throw new Error(`expected a redirect from ${base}, got ${response.status}`);
  return new URL(to, base).toString();
}

/**
 * Runs the provider's part of a sign-in that /auth/login started (its Location), up to the
 * redirect back to the portal; returns the callback URL (not yet visited).
 */
export async function authorizeAtProvider(jar: CookieJar, authorizeUrl: string, login: string): Promise<string> {
  let url = authorizeUrl;
  for (let hops = 0; hops < 10; hops++) {
    const response = await step(jar, url);
    if (response.status >= 300 && response.status < 400) {
      const next = location(response, url);
      if (next.includes('/auth/callback')) return next;
      url = next;
      continue;
    }
    const html = await response.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (response.status !== 200 || !action)
      throw new Error(`unexpected provider page ${url}: ${response.status} ${html.slice(0, 300)}`);
    const posted = await step(jar, new URL(action.replace(/&amp;/g, '&'), url).toString(), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ prompt: 'login', login, password: 'any' }).toString(),
    });
    url = location(posted, url);
    if (url.includes('/auth/callback')) return url;
  }
  throw new Error('the provider did not send the browser back to the portal');
}

/** A full sign-in; returns the jar holding the portal's session cookie. */
export async function signIn(portalUrl: string, login: string, jar = new CookieJar()): Promise<CookieJar> {
  const start = await step(jar, `${portalUrl}/auth/login?return_to=${encodeURIComponent('/#/tasks')}`);
  if (start.status !== 302) throw new Error(`/auth/login answered ${start.status}: ${await start.text()}`);
  const callback = await authorizeAtProvider(jar, location(start, portalUrl), login);
  const done = await step(jar, callback);
  if (done.status !== 302) throw new Error(`/auth/callback answered ${done.status}: ${await done.text()}`);
  return jar;
}

/** A JSON call with the session cookie, from the portal's own page (Origin = the portal). */
export async function asBrowser(
  jar: CookieJar,
  portalUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = { origin: portalUrl },
): Promise<{ status: number; body: any }> {
  const response = await step(jar, `${portalUrl}${path}`, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {}
  return { status: response.status, body: parsed };
}
