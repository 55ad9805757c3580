/**
 * Bearer-token auth (off unless AUTH_TOKENS is set). Each token maps to a user; every
 * route needs one except those marked `config: { public: true }` (docs, health, the
 * signed part URLs — their signature is the credential).
 */
import { timingSafeEqual } from 'node:crypto';
import { ApiError } from '@speos-portal/protocol';
import type { FastifyInstance } from 'fastify';
import type { Owner } from '../tasks/repository.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated user, or null when auth is off. */
    owner: Owner;
  }
  interface FastifyContextConfig {
    public?: boolean;
  }
}

function lookup(tokens: Map<string, string>, given: string): string | undefined {
  const candidate = Buffer.from(given);
  let found: string | undefined;
  // Compare against every token in constant time, so timing does not reveal a prefix.
  for (const [token, user] of tokens) {
    const expected = Buffer.from(token);
    if (expected.length === candidate.length && timingSafeEqual(expected, candidate)) found = user;
  }
  return found;
}

export function registerAuth(app: FastifyInstance, tokens: Map<string, string>): void {
  app.decorateRequest('owner', null);
  if (tokens.size === 0) return;
  app.addHook('onRequest', async (request) => {
    if (request.method === 'OPTIONS' || request.routeOptions.config?.public) return;
    if (request.routeOptions.url === undefined) return; // 404s answer as 404, not 401
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const user = match ? lookup(tokens, match[1]!) : undefined;
    if (!user) {
      throw new ApiError(
        'UNAUTHENTICATED',
        header ? 'The bearer token is not valid.' : 'This server needs a token: send Authorization: Bearer <token>.',
      );
    }
    request.owner = user;
  });
}
