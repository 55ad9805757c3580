/**
 * Security headers on every answer (@fastify/helmet): a Content-Security-Policy the built
 * web UI passes (its own scripts and styles only, no inline code), no framing, no
 * referrer, nosniff. Part uploads leave the page for PUBLIC_URL or the S3 store, so those
 * origins are allowed to `connect-src` as well. Strict-Transport-Security is left to the
 * TLS proxy in front (the portal itself speaks plain HTTP).
 */
import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';

function origin(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/** Origins a browser sends part PUTs (and S3 downloads) to, besides the page's own. */
export function uploadOrigins(config: Pick<Config, 'publicUrl' | 's3'>): string[] {
  const origins = new Set<string>();
  const s3 = config.s3;
  if (!s3) {
    const own = origin(config.publicUrl);
    if (own) origins.add(own);
    return [...origins];
  }
  const endpoint = s3.publicEndpoint ?? s3.endpoint;
  if (endpoint) {
    const url = new URL(endpoint);
    origins.add(url.origin);
    // Virtual-hosted style puts the bucket in the host name.
    if (!s3.forcePathStyle) origins.add(`${url.protocol}//${s3.bucket}.${url.host}`);
  } else {
    origins.add(`https://${s3.bucket}.s3.${s3.region}.amazonaws.com`);
    origins.add(`https://s3.${s3.region}.amazonaws.com`);
    origins.add(`https://${s3.bucket}.s3.amazonaws.com`);
  }
  return [...origins];
}

export async function registerSecurityHeaders(app: FastifyInstance, config: Config): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'", ...uploadOrigins(config)],
        objectSrc: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    referrerPolicy: { policy: 'no-referrer' },
    xFrameOptions: { action: 'deny' },
    strictTransportSecurity: false,
    // Other origins' frontends may call the API (CORS_ORIGINS); CORS decides, not CORP.
    crossOriginResourcePolicy: { policy: 'cross-origin' },
  });
}

/**
 * The API docs page (/docs): Swagger UI's own CSP, without the upgrade to https that breaks
 * plain-HTTP set-ups, with no framing, and with inline styles allowed (Swagger UI's script
 * sets them; scripts stay limited to the page's own files).
 */
export function swaggerCsp(header: string): string {
  return header
    .replace(/\s*upgrade-insecure-requests;?/, '')
    .replace("frame-ancestors 'self'", "frame-ancestors 'none'")
    .replace(/style-src 'self' https:[^;]*;/, "style-src 'self' 'unsafe-inline';");
}
