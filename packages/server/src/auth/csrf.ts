/**
 * Cross-site request forgery: a change (POST, PUT, PATCH, DELETE) authenticated by the
 * session cookie must come from a page of this portal. SameSite=Lax already keeps the
 * cookie off cross-site POSTs; this also covers same-site origins (another app on a sister
 * subdomain) and browsers without SameSite. Browsers send `Origin` on every such request,
 * and a page cannot forge it; `Sec-Fetch-Site` is the fallback when a proxy drops Origin.
 * Bearer tokens are not sent by browsers on their own, so requests with one are not checked.
 * No token to fetch first: the original portal's frontend (plain fetch) works unchanged.
 */
import { ApiError } from '@speos-portal/protocol';
import type { FastifyRequest } from 'fastify';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method);
}

export class OriginCheck {
  readonly #trusted: Set<string>;

  /** `publicUrl`'s origin and any explicit CORS_ORIGINS are trusted, beside the request's own host. */
  constructor(publicUrl: string, corsOrigins: '*' | string[]) {
    this.#trusted = new Set([new URL(publicUrl).origin]);
    if (corsOrigins !== '*') for (const origin of corsOrigins) this.#trusted.add(new URL(origin).origin);
  }

  /** Throws CSRF_REJECTED unless the request demonstrably comes from this portal's pages. */
  check(request: FastifyRequest): void {
    const origin = request.headers.origin;
    if (typeof origin === 'string' && origin !== 'null') {
      if (this.#trusted.has(origin)) return;
      // The origin the browser addressed (no proxy in between, or one that keeps Host).
      const host = request.headers.host;
      try {
        if (host && new URL(origin).host === host) return;
      } catch {
        // An Origin that is not a URL matches no host: refused just below.
      }
      throw rejected(`the request came from ${origin}`);
    }
    const site = request.headers['sec-fetch-site'];
    if (site === 'same-origin') return;
    throw rejected(
      origin === 'null'
        ? 'its Origin is "null"'
        : site
          ? `Sec-Fetch-Site is ${String(site)}`
          : 'it carries no Origin header',
    );
  }
}

function rejected(why: string): ApiError {
  return new ApiError(
    'CSRF_REJECTED',
    `Refused a change made with the sign-in cookie: ${why}, not from this portal's pages. Use the portal's own pages, or send an API token (Authorization: Bearer …) instead of the cookie.`,
  );
}
