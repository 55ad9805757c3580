/**
 * The two encrypted cookies of sign-in (@fastify/secure-session, libsodium secretbox):
 * `speos_session` holds the session id (the session itself is in the database), and
 * `speos_login` the state, nonce and PKCE verifier of sign-ins under way (ten minutes).
 * Both httpOnly, SameSite=Lax, Secure when PUBLIC_URL is https. Keys are derived from
 * SESSION_SECRET with HKDF, one per cookie.
 */
import { hkdfSync } from 'node:crypto';
import secureSession from '@fastify/secure-session';
import type { FastifyInstance } from 'fastify';
import { LOGIN_COOKIE, LOGIN_FLOW_SECONDS, SESSION_COOKIE } from './login-flows.js';

function key(secret: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'speos-portal', purpose, 32));
}

export async function registerCookies(
  app: FastifyInstance,
  options: { secret: string; secure: boolean; sessionSeconds: number },
): Promise<void> {
  const cookie = { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: options.secure };
  await app.register(secureSession, [
    {
      sessionName: 'portalSession',
      cookieName: SESSION_COOKIE,
      key: key(options.secret, 'session cookie'),
      expiry: options.sessionSeconds,
      cookie: { ...cookie, maxAge: options.sessionSeconds },
    },
    {
      sessionName: 'loginFlows',
      cookieName: LOGIN_COOKIE,
      key: key(options.secret, 'login cookie'),
      expiry: LOGIN_FLOW_SECONDS,
      cookie: { ...cookie, maxAge: LOGIN_FLOW_SECONDS },
    },
  ]);
}
