/**
 * The portal as an OpenID Connect relying party (openid-client): authorization code flow
 * with PKCE (S256), state and nonce. The provider's metadata is discovered on first use and
 * kept; a provider that is down at start-up does not stop the portal, sign-ins retry it.
 */
import { ApiError } from '@speos-portal/protocol';
import * as oidc from 'openid-client';
import type { OidcConfig } from './config.js';
import type { Claims } from './users.js';

/** What the callback must match; kept in the encrypted sign-in cookie between the two legs. */
export interface LoginChecks {
  state: string;
  nonce: string;
  verifier: string;
}

/** Reads `a.b.c` from nested claim objects (Keycloak: `realm_access.roles`). */
export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (path in claims) return claims[path];
  let value: unknown = claims;
  for (const key of path.split('.')) {
    if (!value || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function groupsOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string');
  if (typeof value === 'string') return [value];
  return [];
}

const text = (value: unknown): string | null => (typeof value === 'string' && value.trim() ? value.trim() : null);

export class RelyingParty {
  readonly #config: OidcConfig;
  readonly redirectUri: string;
  #discovered: Promise<oidc.Configuration> | undefined;

  constructor(config: OidcConfig, redirectUri: string) {
    this.#config = config;
    this.redirectUri = redirectUri;
  }

  get issuer(): string {
    return this.#config.issuer;
  }

  /** The provider's metadata; a failed discovery is forgotten so the next request tries again. */
  metadata(): Promise<oidc.Configuration> {
    if (!this.#discovered) {
      const { issuer, clientId, clientSecret } = this.#config;
      const url = new URL(issuer);
      this.#discovered = oidc
        .discovery(
          url,
          clientId,
          clientSecret ? { client_secret: clientSecret } : {},
          clientSecret ? oidc.ClientSecretBasic(clientSecret) : oidc.None(),
          {
            timeout: 10,
            // http:// is accepted by config.ts only for localhost (a local provider, the tests).
            ...(url.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
          },
        )
        .catch((error: unknown) => {
          this.#discovered = undefined;
          throw new ApiError(
            'IDENTITY_PROVIDER_UNAVAILABLE',
            `The sign-in provider at ${issuer} cannot be reached or answered badly (${(error as Error).message}); try again shortly.`,
          );
        });
    }
    return this.#discovered;
  }

  /** Where to send the browser, with fresh state, nonce and PKCE verifier to remember. */
  async start(): Promise<{ url: URL; checks: LoginChecks }> {
    const config = await this.metadata();
    const checks = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier() };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: this.#config.scopes,
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(checks.verifier),
      code_challenge_method: 'S256',
      state: checks.state,
      nonce: checks.nonce,
    });
    return { url, checks };
  }

  /**
   * Redeems the callback's code. openid-client checks the state, the ID token's signature,
   * issuer, audience, expiry and nonce; the provider checks the PKCE verifier.
   */
  async finish(callbackUrl: URL, checks: LoginChecks): Promise<{ claims: Claims; idToken: string | null }> {
    const config = await this.metadata();
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        pkceCodeVerifier: checks.verifier,
        idTokenExpected: true,
      });
    } catch (error) {
      throw loginError(error);
    }
    const idClaims = tokens.claims();
    if (!idClaims) throw new ApiError('LOGIN_FAILED', 'The provider sent no ID token.');
    let claims: Record<string, unknown> = { ...idClaims };
    // Many providers put profile, email and groups only in the userinfo answer.
    if (config.serverMetadata().userinfo_endpoint) {
      try {
        const info = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
        claims = { ...claims, ...info };
      } catch (error) {
        throw loginError(error);
      }
    }
    return {
      claims: {
        issuer: String(idClaims.iss),
        subject: idClaims.sub,
        name: text(claims.name) ?? text(claims.preferred_username) ?? text(claims.email) ?? idClaims.sub,
        email: text(claims.email),
        groups: groupsOf(claimAt(claims, this.#config.groupsClaim)),
      },
      idToken: tokens.id_token ?? null,
    };
  }

  /** The provider's logout page, when it has one (RP-initiated logout), else undefined. */
  async endSessionUrl(idToken: string | null, returnTo: string): Promise<string | undefined> {
    const config = await this.metadata().catch(() => undefined);
    if (!config?.serverMetadata().end_session_endpoint) return undefined;
    return oidc
      .buildEndSessionUrl(config, {
        post_logout_redirect_uri: returnTo,
        ...(idToken ? { id_token_hint: idToken } : {}),
      })
      .toString();
  }
}

/** Why a callback failed, in words for the person (and the log); network trouble is a 503. */
function loginError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const err = error as Error & { code?: string; error?: string; error_description?: string; cause?: unknown };
  if (err instanceof oidc.AuthorizationResponseError || err.error) {
    return new ApiError(
      'LOGIN_FAILED',
      `The provider refused the sign-in: ${err.error ?? 'error'}${err.error_description ? ` (${err.error_description})` : ''}. Sign in again.`,
    );
  }
  if (
    err.name === 'TypeError' ||
    err.code === 'OAUTH_TIMEOUT' ||
    err.name === 'TimeoutError' ||
    err.name === 'AbortError'
  ) {
    return new ApiError(
      'IDENTITY_PROVIDER_UNAVAILABLE',
      `The sign-in provider cannot be reached (${err.message}); try again shortly.`,
    );
  }
  // openid-client's message is generic; its cause (oauth4webapi) names the check that failed,
  // e.g. 'unexpected ID Token "nonce" claim value'.
  const why = err.cause instanceof Error ? err.cause.message : err.message;
  return new ApiError('LOGIN_FAILED', `The sign-in could not be verified: ${why}. Sign in again.`);
}
