/**
 * Authentication on every request (off unless AUTH_TOKENS or OIDC is configured): a bearer
 * token (AUTH_TOKENS or a personal `spt_` token) or the session cookie of a signed-in
 * person. Routes marked `config: { public: true }` need none (docs, health, the signed
 * part URLs — their signature is the credential); `config: { auth: 'optional' }` routes
 * (sign-in, /auth/me) learn who is asking if anyone is. Changes made with the cookie must
 * come from the portal's own pages (auth/csrf.ts).
 */
import { ApiError } from '@speos-portal/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { OriginCheck } from '../auth/csrf.js';
import { isSafeMethod } from '../auth/csrf.js';
import type { Authenticator, Principal } from '../auth/principal.js';
import type { Owner } from '../tasks/repository.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user's owner id, or null when auth is off. */
    owner: Owner;
    /** Whose tasks this request may see and act on: the owner, or null (everyone's) for admins and with auth off. */
    taskScope: Owner;
    /** Who is asking, or null (auth off, or an optional route without credentials). */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    public?: boolean;
    /** Resolve the credential if one is sent, but do not require one. */
    auth?: 'optional';
  }
}

/**
 * Who a task submitted without a `submitter` shows as: a signed-in person's name rather than
 * their owner id (AUTH_TOKENS users' names are their owner ids already, so: undefined).
 */
export function defaultSubmitter(request: FastifyRequest): string | undefined {
  const principal = request.principal;
  return principal && principal.name !== principal.owner ? principal.name.slice(0, 100) : undefined;
}

/** The session id in the encrypted session cookie, when the request has one. */
export type SessionIdReader = (request: FastifyRequest) => string | undefined;

export function registerAuth(
  app: FastifyInstance,
  deps: { authenticator: Authenticator; originCheck: OriginCheck; sessionId: SessionIdReader },
): void {
  const { authenticator, originCheck, sessionId } = deps;
  app.decorateRequest('owner', null);
  app.decorateRequest('taskScope', null);
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    if (request.method === 'OPTIONS' || request.routeOptions.config?.public) return;
    if (request.routeOptions.url === undefined) return; // 404s answer as 404, not 401
    const optional = request.routeOptions.config?.auth === 'optional';
    if (!authenticator.required && !optional) return;
    const principal = await resolve(request);
    if (principal) {
      if (principal.via === 'session' && !isSafeMethod(request.method)) originCheck.check(request);
      request.principal = principal;
      request.owner = principal.owner;
      request.taskScope = principal.admin ? null : principal.owner;
      return;
    }
    if (authenticator.required && !optional) {
      throw new ApiError(
        'UNAUTHENTICATED',
        request.headers.authorization
          ? 'The bearer token is not valid.'
          : 'This server needs you to sign in (open the web UI) or a token: send Authorization: Bearer <token>.',
      );
    }
  });

  async function resolve(request: FastifyRequest): Promise<Principal | undefined> {
    const header = request.headers.authorization;
    if (header) {
      const match = /^Bearer\s+(\S+)$/i.exec(header);
      if (!match) throw new ApiError('UNAUTHENTICATED', 'The Authorization header must be "Bearer <token>".');
      return authenticator.fromBearer(match[1]!);
    }
    const id = sessionId(request);
    return id ? authenticator.fromSession(id) : undefined;
  }
}
