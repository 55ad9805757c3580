/**
 * Sign-in settings: OpenID Connect (OIDC_*), sessions (SESSION_*) and admins (ADMIN_USERS,
 * OIDC_ADMIN_GROUPS). Read by loadConfig; a bad value stops the start naming the variable.
 */
import { ConfigError } from '../config-error.js';
import { readInteger } from '../settings.js';

export interface OidcConfig {
  /** The issuer URL; its discovery document is at `/.well-known/openid-configuration` below it. */
  issuer: string;
  clientId: string;
  /** Unset: a public client (PKCE only, no client authentication). */
  clientSecret: string | undefined;
  scopes: string;
  /** Claim holding the user's groups; dots walk into objects (`realm_access.roles`). */
  groupsClaim: string;
  /** Members of any of these groups are admins. */
  adminGroups: string[];
}

export interface AuthConfig {
  /** Set: people sign in with this provider. */
  oidc: OidcConfig | undefined;
  /** Encrypts the session and sign-in cookies; required with OIDC. */
  sessionSecret: string | undefined;
  /** A session unused this long ends. */
  sessionIdleMinutes: number;
  /** A session ends this long after sign-in, however busy. */
  sessionMaxHours: number;
  /** Emails, OIDC subjects or AUTH_TOKENS user names of admins (emails compared case-insensitively). */
  adminUsers: string[];
}

type Env = Record<string, string | undefined>;

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

function issuerUrl(raw: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError('OIDC_ISSUER', `not a URL: "${raw}"`);
  }
  // Tokens travel from the provider to us: plain http only to this machine (tests, a local Keycloak).
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && LOOPBACK.has(parsed.hostname))) {
    throw new ConfigError('OIDC_ISSUER', `must be an https:// URL (http:// only for localhost), got "${raw}"`);
  }
  if (parsed.search || parsed.hash) throw new ConfigError('OIDC_ISSUER', 'must not have a query or fragment');
  return raw.replace(/\/+$/, '');
}

function oidcConfig(env: Env): OidcConfig | undefined {
  const issuer = env.OIDC_ISSUER?.trim();
  const clientId = env.OIDC_CLIENT_ID?.trim();
  if (!issuer) {
    for (const name of ['OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'OIDC_ADMIN_GROUPS']) {
      if (env[name]?.trim()) throw new ConfigError('OIDC_ISSUER', `is required when ${name} is set`);
    }
    return undefined;
  }
  if (!clientId)
    throw new ConfigError('OIDC_CLIENT_ID', 'is required with OIDC_ISSUER (the client registered for the portal)');
  const scopes = (env.OIDC_SCOPES?.trim() || 'openid profile email').split(/[\s,]+/).filter(Boolean);
  if (!scopes.includes('openid'))
    throw new ConfigError('OIDC_SCOPES', `must include "openid", got "${scopes.join(' ')}"`);
  const groupsClaim = env.OIDC_GROUPS_CLAIM?.trim() || 'groups';
  if (!/^[A-Za-z0-9_:/.-]{1,200}$/.test(groupsClaim)) {
    throw new ConfigError('OIDC_GROUPS_CLAIM', `"${groupsClaim}" is not a claim name`);
  }
  return {
    issuer: issuerUrl(issuer),
    clientId,
    clientSecret: env.OIDC_CLIENT_SECRET?.trim() || undefined,
    scopes: scopes.join(' '),
    groupsClaim,
    adminGroups: list(env.OIDC_ADMIN_GROUPS),
  };
}

export function loadAuthConfig(env: Env): AuthConfig {
  const oidc = oidcConfig(env);
  const sessionSecret = env.SESSION_SECRET?.trim() || undefined;
  if (oidc && !sessionSecret) {
    throw new ConfigError('SESSION_SECRET', 'is required with OIDC_ISSUER (at least 32 random characters)');
  }
  if (sessionSecret !== undefined && sessionSecret.length < 32) {
    throw new ConfigError('SESSION_SECRET', 'must be at least 32 characters');
  }
  const sessionIdleMinutes = readInteger(env, 'SESSION_IDLE_MINUTES');
  const sessionMaxHours = readInteger(env, 'SESSION_MAX_HOURS');
  if (sessionIdleMinutes > sessionMaxHours * 60) {
    throw new ConfigError('SESSION_IDLE_MINUTES', `must not be longer than SESSION_MAX_HOURS (${sessionMaxHours} h)`);
  }
  return {
    oidc,
    sessionSecret,
    sessionIdleMinutes,
    sessionMaxHours,
    adminUsers: list(env.ADMIN_USERS),
  };
}
