/**
 * A real OpenID provider for tests: `oidc-provider` (a certified implementation) on a local
 * port, with the portal registered as a confidential client and three people. Its built-in
 * development sign-in form accepts any password for a known login name; consent is granted
 * up front, as a company's provider does for its own applications.
 */
import type { Server } from 'node:http';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { freePort } from './portal.js';

export interface TestPerson {
  name: string;
  email: string;
  groups: string[];
}

export const PEOPLE: Record<string, TestPerson> = {
  alice: { name: 'Alice Anders', email: 'alice@example.com', groups: ['optics'] },
  bob: { name: 'Bob Berg', email: 'bob@example.com', groups: ['optics'] },
  carol: { name: 'Carol Chen', email: 'carol@example.com', groups: ['optics', 'portal-admins'] },
  /** Signs in for the first time in the race test (so their users row does not exist yet). */
  dave: { name: 'Dave Dietrich', email: 'dave@example.com', groups: [] },
};

export const CLIENT_ID = 'speos-portal';
export const CLIENT_SECRET = 'test-client-secret-0123456789abcdef';

export interface TestProvider {
  issuer: string;
  provider: Provider;
  /** The environment that points a portal at this provider. */
  env(portalUrl: string): Record<string, string>;
  close(): Promise<void>;
}

/**
 * Starts the provider for portals at `portalUrls` (their /auth/callback is the registered
 * redirect URI; register every portal a test file starts, before starting it).
 */
export async function startTestProvider(portalUrls: string[]): Promise<TestProvider> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const configuration: Configuration = {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: portalUrls.map((url) => `${url}/auth/callback`),
        post_logout_redirect_uris: portalUrls.map((url) => `${url}/`),
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    claims: {
      openid: ['sub'],
      profile: ['name'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    scopes: ['openid', 'profile', 'email', 'groups'],
    async findAccount(_ctx: KoaContextWithOIDC, id: string) {
      const person = PEOPLE[id];
      if (!person) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, name: person.name, email: person.email, email_verified: true, groups: person.groups };
        },
      };
    },
    // Consent is given up front for the portal (a first-party application).
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const session = ctx.oidc.session!;
      const client = ctx.oidc.client!;
      const existing = session.grantIdFor(client.clientId);
      if (existing) return ctx.oidc.provider.Grant.find(existing);
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId! });
      grant.addOIDCScope('openid profile email groups');
      await grant.save();
      session.grantIdFor(client.clientId, grant.jti);
      return grant;
    },
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx: KoaContextWithOIDC, form: string) {
          ctx.body = `<!doctype html><title>Sign out</title><h1>Sign out of the test provider?</h1>${form}<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>`;
        },
      },
    },
    cookies: { keys: ['test-provider-cookie-key-0123456789'] },
    ttl: { AccessToken: 600, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
  };
  const provider = new Provider(issuer, configuration);
  // The provider's warnings about development keys and interactions are expected here.
  provider.on('server_error', (_ctx, error) => console.error('test provider error', error));
  const server: Server = provider.listen(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return {
    issuer,
    provider,
    env: () => ({
      OIDC_ISSUER: issuer,
      OIDC_CLIENT_ID: CLIENT_ID,
      OIDC_CLIENT_SECRET: CLIENT_SECRET,
      OIDC_SCOPES: 'openid profile email groups',
      OIDC_ADMIN_GROUPS: 'portal-admins',
      SESSION_SECRET: 'test-session-secret-0123456789abcdef-0123456789',
    }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
