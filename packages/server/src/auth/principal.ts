/**
 * Who is asking, from whichever credential the request carries: an AUTH_TOKENS bearer
 * token, a personal API token (`spt_…`) or the session cookie of a signed-in person.
 */
import { timingSafeEqual } from 'node:crypto';
import { ApiError } from '@speos-portal/protocol';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connect.js';
import type { UserRow } from '../db/schema.js';
import type { AuthConfig } from './config.js';
import type { SessionStore } from './sessions.js';
import { findApiToken, TOKEN_PREFIX } from './tokens.js';
import { isAdmin, userGroups } from './users.js';

export interface Principal {
  /** What tasks.owner and uploads.owner hold for this person. */
  owner: string;
  name: string;
  email: string | null;
  /** Sees, stops, retries and deletes every task. */
  admin: boolean;
  via: 'auth_token' | 'api_token' | 'session';
  /** The personal token used (via api_token), so `DELETE /auth/tokens/current` can revoke it. */
  tokenId?: string;
  /** The cookie's session id (via session), so sign-out ends it. */
  sessionId?: string;
  idToken?: string | null;
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

export class Authenticator {
  readonly #db: Db;
  readonly #authTokens: Map<string, string>;
  readonly #config: AuthConfig;
  readonly #clock: Clock;
  readonly sessions: SessionStore | undefined;

  constructor(deps: {
    db: Db;
    authTokens: Map<string, string>;
    config: AuthConfig;
    clock: Clock;
    sessions: SessionStore | undefined;
  }) {
    this.#db = deps.db;
    this.#authTokens = deps.authTokens;
    this.#config = deps.config;
    this.#clock = deps.clock;
    this.sessions = deps.sessions;
  }

  /** Off (everyone sees everything, as before) unless AUTH_TOKENS or OIDC is configured. */
  get required(): boolean {
    return this.#authTokens.size > 0 || this.#config.oidc !== undefined;
  }

  /** The bearer token's person; throws UNAUTHENTICATED for a token that is not (or no longer) valid. */
  async fromBearer(token: string): Promise<Principal> {
    const user = lookup(this.#authTokens, token);
    if (user !== undefined) {
      return { owner: user, name: user, email: null, admin: isAdmin(this.#config, { name: user }), via: 'auth_token' };
    }
    if (token.startsWith(TOKEN_PREFIX)) {
      const found = await findApiToken(this.#db, token, this.#clock());
      if (found) return { ...this.#fromUser(found.user), via: 'api_token', tokenId: found.token.token_id };
      throw new ApiError(
        'UNAUTHENTICATED',
        'This API token is unknown, revoked or expired. Create a new one (web UI → API tokens, or speos-portal login).',
      );
    }
    throw new ApiError('UNAUTHENTICATED', 'The bearer token is not valid.');
  }

  /** The signed-in person of a session id from the cookie, or undefined when it ended. */
  async fromSession(sessionId: string): Promise<Principal | undefined> {
    const found = await this.sessions?.find(sessionId, this.#clock());
    if (!found) return undefined;
    return { ...this.#fromUser(found.user), via: 'session', sessionId, idToken: found.idToken };
  }

  #fromUser(user: UserRow): Omit<Principal, 'via'> {
    return {
      owner: user.user_id,
      name: user.name ?? user.email ?? user.subject,
      email: user.email,
      admin: isAdmin(this.#config, { email: user.email, subject: user.subject, groups: userGroups(user) }),
    };
  }
}
