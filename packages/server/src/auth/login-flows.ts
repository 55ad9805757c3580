/**
 * Sign-ins under way, kept in the encrypted `speos_login` cookie (cookies.ts) between
 * /auth/login and /auth/callback: state, nonce, PKCE verifier and where to go afterwards.
 * Kept apart from cookies.ts so that only a portal with OIDC loads the cookie plugin.
 */
import type { FastifyRequest } from 'fastify';
import type { LoginChecks } from './oidc.js';

export const SESSION_COOKIE = 'speos_session';
export const LOGIN_COOKIE = 'speos_login';
export const LOGIN_FLOW_SECONDS = 600;
/** Sign-ins under way in one browser at once (several tabs); older ones are dropped. */
const MAX_FLOWS = 5;

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

export interface LoginFlow extends LoginChecks {
  returnTo: string;
  /** Epoch ms when it started. */
  at: number;
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
