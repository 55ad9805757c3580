/**
 * Everything sign-in adds to the app, in one call from app.ts: the encrypted cookies (with
 * OIDC only), the authentication hook, and a plugin for the /auth/* routes per prefix.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connect.js';
import { registerAuth } from '../http/auth.js';
import { OriginCheck } from './csrf.js';
import { DeviceLogins } from './device.js';
import { sessionIdOf } from './login-flows.js';
import type { RelyingParty } from './oidc.js';
import { Authenticator } from './principal.js';
import { type AuthRoutesOptions, authRoutes } from './routes.js';
import { SessionStore } from './sessions.js';

export interface SignIn {
  authenticator: Authenticator;
  relyingParty: RelyingParty | undefined;
  /** The /auth/* routes; register once per prefix ('' and '/api'). */
  routes: FastifyPluginAsync<{ hide: boolean }>;
}

export async function setupSignIn(
  app: FastifyInstance,
  deps: { config: Config; db: Db; clock: Clock },
): Promise<SignIn> {
  const { config, db, clock } = deps;
  const auth = config.auth;
  let relyingParty: RelyingParty | undefined;
  const sessions = auth.oidc ? new SessionStore(db, auth) : undefined;
  if (auth.oidc && auth.sessionSecret && sessions) {
    // Loaded only with OIDC (openid-client, libsodium): the embedded set-up starts as before.
    const [{ RelyingParty }, { registerCookies }] = await Promise.all([import('./oidc.js'), import('./cookies.js')]);
    relyingParty = new RelyingParty(auth.oidc, `${config.publicUrl}/auth/callback`);
    await registerCookies(app, {
      secret: auth.sessionSecret,
      secure: config.publicUrl.startsWith('https:'),
      sessionSeconds: sessions.maxSeconds,
    });
  }
  if (relyingParty) {
    // Learn the provider's metadata early and say so if it is unreachable; the portal starts
    // anyway, and sign-ins try again (503 until the provider answers).
    app.addHook('onReady', async () => {
      relyingParty.metadata().catch((error: Error) => app.log.warn(error.message));
    });
  }
  const authenticator = new Authenticator({ db, authTokens: config.authTokens, config: auth, clock, sessions });
  registerAuth(app, {
    authenticator,
    originCheck: new OriginCheck(config.publicUrl, config.corsOrigins),
    sessionId: sessions ? sessionIdOf : () => undefined,
  });
  const options: Omit<AuthRoutesOptions, 'hide'> = {
    db,
    clock,
    publicUrl: config.publicUrl,
    authenticator,
    relyingParty,
    devices: new DeviceLogins(db),
  };
  const routes: FastifyPluginAsync<{ hide: boolean }> = async (scope, { hide }) =>
    authRoutes(scope, { ...options, hide });
  return { authenticator, relyingParty, routes };
}
