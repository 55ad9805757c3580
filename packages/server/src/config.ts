/**
 * Configuration from environment variables (CLI flags override them), validated once at
 * start-up. A bad value stops the server with a message naming the variable.
 */
import path from 'node:path';
import { DEFAULT_CHUNK_SIZE, DEFAULT_MAX_FILE_SIZE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '@speos-portal/protocol';
import { type AuthConfig, loadAuthConfig } from './auth/config.js';

export interface Config {
  port: number;
  host: string;
  /** Base of the upload URLs the server hands out, without a trailing slash. */
  publicUrl: string;
  dataDir: string;
  /** Unset: SQLite in dataDir. */
  databaseUrl: string | undefined;
  /** At start-up, how long to wait for a PostgreSQL server that cannot be reached yet. */
  databaseWaitSeconds: number;
  storage: 'fs' | 's3';
  /** Set when storage is 's3'. */
  s3: S3Config | undefined;
  maxFileSize: number;
  chunkSize: number;
  urlTtlSeconds: number;
  uploadTtlHours: number;
  /** How often unfinished uploads past uploadTtlHours are looked for and reclaimed. */
  uploadExpiryIntervalSeconds: number;
  /** token → user; empty: auth off. */
  authTokens: Map<string, string>;
  /** Sign-in with an OpenID provider, sessions, admins (auth/config.ts). */
  auth: AuthConfig;
  /** '*' or an allow-list of origins. */
  corsOrigins: '*' | string[];
  speosVersions: string[];
  speosProfiles: string[];
  maxThreadCount: number;
  /** HMAC key for filesystem upload URLs; unset: generated once and kept in dataDir. */
  signingKey: string | undefined;
  logLevel: string;
  /** Seconds to let in-flight requests finish after SIGTERM. */
  shutdownGraceSeconds: number;
  /** Built web UI to serve at `/`; unset: packages/web/dist beside the server. */
  webDir: string | undefined;
  /** CLI_DOWNLOADS_DIR: the command-line tool's builds served at /downloads (default: dist/cli). */
  cliDownloadsDir: string | undefined;
  /** Worker threads that compute part MD5s (0: on the event loop). */
  hashThreads: number;
  /** SQLite's durability of commits (SQLITE_SYNCHRONOUS). */
  sqliteSynchronous: 'FULL' | 'NORMAL' | 'EXTRA';
  /** How long an Idempotency-Key's answer is kept for repeats. */
  idempotencyTtlHours: number;
}

/** The S3-compatible store (STORAGE=s3). */
export interface S3Config {
  /** Unset: AWS S3's own endpoint for the region. */
  endpoint: string | undefined;
  /** The endpoint as browsers reach it, if not S3_ENDPOINT (presigned URLs name this host). */
  publicEndpoint: string | undefined;
  region: string;
  bucket: string;
  /** Unset (both): the AWS SDK's default credential chain (AWS_* variables, instance role). */
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
  forcePathStyle: boolean;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function list(env: Env, name: string, fallback: string[]): string[] {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new ConfigError(name, 'must list at least one value, separated by commas');
  return items;
}

/** `AUTH_TOKENS=token1:alice,token2:bob` — each bearer token maps to a user name. */
function authTokens(env: Env): Map<string, string> {
  const tokens = new Map<string, string>();
  for (const entry of list(env, 'AUTH_TOKENS', [])) {
    const colon = entry.lastIndexOf(':');
    const token = colon > 0 ? entry.slice(0, colon) : '';
    const user = colon > 0 ? entry.slice(colon + 1) : '';
    if (!token || !user)
      throw new ConfigError('AUTH_TOKENS', `expected token:user pairs separated by commas, got "${entry}"`);
    if (token.length < 16)
      throw new ConfigError('AUTH_TOKENS', `the token of user "${user}" is shorter than 16 characters`);
    tokens.set(token, user);
  }
  return tokens;
}

function url(env: Env, name: string, fallback: string): string {
  const raw = env[name]?.trim() || fallback;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `not a URL: "${raw}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError(name, `must start with http:// or https://, got "${raw}"`);
  }
  return raw.replace(/\/+$/, '');
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['true', '1', 'yes', 'on'].includes(raw)) return true;
  if (['false', '0', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${env[name]}"`);
}

/** S3 settings, read only when STORAGE=s3; each message names the variable to set. */
function s3Config(env: Env): S3Config {
  const bucket = env.S3_BUCKET?.trim();
  if (!bucket) throw new ConfigError('S3_BUCKET', 'is required when STORAGE=s3 (the bucket that holds the uploads)');
  // S3's bucket naming rules (3–63 characters: lower-case letters, digits, dots, hyphens).
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError('S3_BUCKET', `"${bucket}" is not a valid bucket name (3–63 of a-z 0-9 . -)`);
  }
  const endpoint = env.S3_ENDPOINT?.trim() ? url(env, 'S3_ENDPOINT', '') : undefined;
  const publicEndpoint = env.S3_PUBLIC_ENDPOINT?.trim() ? url(env, 'S3_PUBLIC_ENDPOINT', '') : undefined;
  const region = env.S3_REGION?.trim() || 'us-east-1';
  if (!/^[a-z0-9-]{2,40}$/i.test(region)) throw new ConfigError('S3_REGION', `"${region}" is not a region name`);
  const accessKeyId = env.S3_ACCESS_KEY_ID?.trim() || undefined;
  const secretAccessKey = env.S3_SECRET_ACCESS_KEY?.trim() || undefined;
  if (accessKeyId && !secretAccessKey) {
    throw new ConfigError('S3_SECRET_ACCESS_KEY', 'is required when S3_ACCESS_KEY_ID is set');
  }
  if (secretAccessKey && !accessKeyId) {
    throw new ConfigError('S3_ACCESS_KEY_ID', 'is required when S3_SECRET_ACCESS_KEY is set');
  }
  return {
    endpoint,
    publicEndpoint,
    region,
    bucket,
    accessKeyId,
    secretAccessKey,
    forcePathStyle: boolean(env, 'S3_FORCE_PATH_STYLE', false),
  };
}

/** DATABASE_URL: unset (SQLite in DATA_DIR), sqlite:/path/file.db, or postgres://…. */
function databaseUrl(env: Env): string | undefined {
  const raw = env.DATABASE_URL?.trim();
  if (!raw) return undefined;
  if (raw.startsWith('sqlite:')) return raw;
  if (/^postgres(ql)?:\/\//.test(raw)) {
    try {
      new URL(raw);
    } catch {
      throw new ConfigError('DATABASE_URL', 'is not a valid postgres://user:password@host:port/database URL');
    }
    return raw;
  }
  throw new ConfigError('DATABASE_URL', 'expected postgres://user:password@host:port/database or sqlite:/path/file.db');
}

function sqliteSynchronous(env: Env): Config['sqliteSynchronous'] {
  const value = (env.SQLITE_SYNCHRONOUS?.trim() || 'FULL').toUpperCase();
  if (value !== 'FULL' && value !== 'NORMAL' && value !== 'EXTRA') {
    throw new ConfigError('SQLITE_SYNCHRONOUS', `must be FULL, NORMAL or EXTRA, got "${value}"`);
  }
  return value;
}

export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const port = integer(env, 'PORT', 8000, 0, 65535);
  const host = env.HOST?.trim() || '127.0.0.1';
  const storage = (env.STORAGE?.trim() || 'fs') as Config['storage'];
  if (storage !== 'fs' && storage !== 's3') throw new ConfigError('STORAGE', `must be "fs" or "s3", got "${storage}"`);
  const chunkSize = integer(env, 'CHUNK_SIZE', DEFAULT_CHUNK_SIZE, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE);
  const maxFileSize = integer(env, 'MAX_FILE_SIZE', DEFAULT_MAX_FILE_SIZE, 1, 5 * 1024 ** 4);
  const urlHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const corsRaw = env.CORS_ORIGINS?.trim();
  const corsOrigins = !corsRaw || corsRaw === '*' ? '*' : list(env, 'CORS_ORIGINS', []);
  if (corsOrigins !== '*') {
    for (const origin of corsOrigins) url({ CORS_ORIGINS: origin }, 'CORS_ORIGINS', origin);
  }
  const speosVersions = list(env, 'SPEOS_VERSIONS', ['v252', 'v251', 'v242', 'v241', 'v232']);
  for (const v of speosVersions) {
    if (!/^[A-Za-z0-9._-]{1,20}$/.test(v))
      throw new ConfigError('SPEOS_VERSIONS', `"${v}" is not a version name like v252`);
  }
  const signingKey = env.SIGNING_KEY?.trim() || undefined;
  if (signingKey !== undefined && signingKey.length < 32) {
    throw new ConfigError('SIGNING_KEY', 'must be at least 32 characters (or unset, to generate one in DATA_DIR)');
  }
  const logLevel = env.LOG_LEVEL?.trim() || 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError(
      'LOG_LEVEL',
      `must be one of fatal, error, warn, info, debug, trace, silent; got "${logLevel}"`,
    );
  }
  return {
    port,
    host,
    publicUrl: url(env, 'PUBLIC_URL', `http://${urlHost}:${port}`),
    dataDir: path.resolve(cwd, env.DATA_DIR?.trim() || './data'),
    databaseUrl: databaseUrl(env),
    databaseWaitSeconds: integer(env, 'DATABASE_WAIT_SECONDS', 60, 0, 3600),
    storage,
    s3: storage === 's3' ? s3Config(env) : undefined,
    maxFileSize,
    chunkSize,
    urlTtlSeconds: integer(env, 'URL_TTL_SECONDS', 3600, 1, 7 * 24 * 3600),
    uploadTtlHours: integer(env, 'UPLOAD_TTL_HOURS', 72, 1, 24 * 365),
    uploadExpiryIntervalSeconds: integer(env, 'UPLOAD_EXPIRY_INTERVAL_SECONDS', 600, 1, 24 * 3600),
    authTokens: authTokens(env),
    auth: loadAuthConfig(env),
    corsOrigins,
    speosVersions,
    speosProfiles: list(env, 'SPEOS_PROFILES', ['Standard', 'High Quality', 'Fast Preview']),
    maxThreadCount: integer(env, 'MAX_THREAD_COUNT', 64, 1, 4096),
    signingKey,
    logLevel,
    shutdownGraceSeconds: integer(env, 'SHUTDOWN_GRACE_SECONDS', 30, 0, 3600),
    webDir: env.WEB_DIR?.trim() ? path.resolve(cwd, env.WEB_DIR.trim()) : undefined,
    cliDownloadsDir: env.CLI_DOWNLOADS_DIR?.trim() ? path.resolve(cwd, env.CLI_DOWNLOADS_DIR.trim()) : undefined,
    hashThreads: integer(env, 'HASH_THREADS', 1, 0, 16),
    sqliteSynchronous: sqliteSynchronous(env),
    idempotencyTtlHours: integer(env, 'IDEMPOTENCY_TTL_HOURS', 24, 1, 24 * 365),
  };
}
