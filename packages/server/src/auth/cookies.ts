/**
 * The two encrypted cookies of sign-in (@fastify/secure-session, libsodium secretbox):
 * `speos_session` holds the session id (the session itself is in the database), and
 * `speos_login` the state, nonce and PKCE verifier of sign-ins under way (ten minutes).
 * Both httpOnly, SameSite=Lax, Secure when PUBLIC_URL is https. Keys are derived from
 * SESSION_SECRET with HKDF, one per cookie.
 */
import { hkdfSync } from 'node:crypto';
import secureSession from '@fastify/secure-session';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LoginChecks } from './oidc.js';

/** What we use of a secure-session cookie (its own typing only knows `request.session`). */
interface CookieSession {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
  delete(): void;
}

declare module 'fastify' {
  interface FastifyRequest {
    portalSession: CookieSession;
    loginFlows: CookieSession;
  }
}

export const SESSION_COOKIE = 'speos_session';
export const LOGIN_COOKIE = 'speos_login';
export const LOGIN_FLOW_SECONDS = 600;
/** Sign-ins under way in one browser at once (several tabs); older ones are dropped. */
const MAX_FLOWS = 5;

export interface LoginFlow extends LoginChecks {
  returnTo: string;
  /** Epoch ms when it started. */
  at: number;
}

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

export function sessionIdOf(request: FastifyRequest): string | undefined {
  const id = request.portalSession?.get('sid');
  return typeof id === 'string' ? id : undefined;
}

function flowsOf(request: FastifyRequest, now: number): Record<string, LoginFlow> {
  const stored = request.loginFlows.get('flows');
  const flows: Record<string, LoginFlow> = {};
  if (stored && typeof stored === 'object') {
    for (const [state, flow] of Object.entries(stored as Record<string, LoginFlow>)) {
      if (flow && typeof flow.at === 'number' && now - flow.at < LOGIN_FLOW_SECONDS * 1000) flows[state] = flow;
    }
  }
  return flows;
}

export function rememberFlow(request: FastifyRequest, flow: LoginFlow): void {
  const flows = flowsOf(request, flow.at);
  flows[flow.state] = flow;
  const newest = Object.values(flows)
    .sort((a, b) => b.at - a.at)
    .slice(0, MAX_FLOWS);
  request.loginFlows.set('flows', Object.fromEntries(newest.map((f) => [f.state, f])));
}

/** The flow a callback's state names, removed from the cookie: a callback can be used once. */
export function takeFlow(request: FastifyRequest, state: string, now: number): LoginFlow | undefined {
  const flows = flowsOf(request, now);
  const flow = flows[state];
  if (!flow) return undefined;
  delete flows[state];
  if (Object.keys(flows).length === 0) request.loginFlows.delete();
  else request.loginFlows.set('flows', flows);
  return flow;
}
