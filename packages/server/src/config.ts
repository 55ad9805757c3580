/**
 * Configuration from environment variables (CLI flags override them), validated once at
 * start-up. A bad value stops the server with a message naming the variable.
 */
import path from 'node:path';
import { type AuthConfig, loadAuthConfig } from './auth/config.js';
import { ConfigError } from './config-error.js';
import { readBoolean, readInteger, readList, readNumber, readOptional, readText } from './settings.js';

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
  /** Retention, quotas and notifications (issue 17; the block at the end of this file). */
  keeping: KeepingConfig;
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

export { ConfigError } from './config-error.js';

type Env = Record<string, string | undefined>;

/** `AUTH_TOKENS=token1:alice,token2:bob` — each bearer token maps to a user name. */
function authTokens(env: Env): Map<string, string> {
  const tokens = new Map<string, string>();
  for (const entry of readList(env, 'AUTH_TOKENS')) {
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
    forcePathStyle: readBoolean(env, 'S3_FORCE_PATH_STYLE'),
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
  const port = readInteger(env, 'PORT');
  const host = env.HOST?.trim() || '127.0.0.1';
  const storage = (env.STORAGE?.trim() || 'fs') as Config['storage'];
  if (storage !== 'fs' && storage !== 's3') throw new ConfigError('STORAGE', `must be "fs" or "s3", got "${storage}"`);
  const chunkSize = readInteger(env, 'CHUNK_SIZE');
  const maxFileSize = readInteger(env, 'MAX_FILE_SIZE');
  const urlHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const corsRaw = env.CORS_ORIGINS?.trim();
  const corsOrigins = !corsRaw || corsRaw === '*' ? '*' : readList(env, 'CORS_ORIGINS');
  if (corsOrigins !== '*') {
    for (const origin of corsOrigins) url({ CORS_ORIGINS: origin }, 'CORS_ORIGINS', origin);
  }
  const speosVersions = readList(env, 'SPEOS_VERSIONS');
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
    databaseWaitSeconds: readInteger(env, 'DATABASE_WAIT_SECONDS'),
    storage,
    s3: storage === 's3' ? s3Config(env) : undefined,
    maxFileSize,
    chunkSize,
    urlTtlSeconds: readInteger(env, 'URL_TTL_SECONDS'),
    uploadTtlHours: readInteger(env, 'UPLOAD_TTL_HOURS'),
    uploadExpiryIntervalSeconds: readInteger(env, 'UPLOAD_EXPIRY_INTERVAL_SECONDS'),
    authTokens: authTokens(env),
    auth: loadAuthConfig(env),
    corsOrigins,
    speosVersions,
    speosProfiles: readList(env, 'SPEOS_PROFILES'),
    maxThreadCount: readInteger(env, 'MAX_THREAD_COUNT'),
    signingKey,
    logLevel,
    shutdownGraceSeconds: readInteger(env, 'SHUTDOWN_GRACE_SECONDS'),
    webDir: env.WEB_DIR?.trim() ? path.resolve(cwd, env.WEB_DIR.trim()) : undefined,
    cliDownloadsDir: readText(env, 'CLI_DOWNLOADS_DIR')
      ? path.resolve(cwd, readText(env, 'CLI_DOWNLOADS_DIR')!)
      : undefined,
    hashThreads: readInteger(env, 'HASH_THREADS'),
    sqliteSynchronous: sqliteSynchronous(env),
    idempotencyTtlHours: readInteger(env, 'IDEMPOTENCY_TTL_HOURS'),
    keeping: loadKeepingConfig(env),
  };
}

// ─── Retention, quotas and notifications (issue 17) ──────────────────────────────────────
// Their settings are described in settings.ts like every other.

export interface KeepingConfig {
  /** Stored bytes allowed per user (uploads, unfinished ones too, and results); undefined: no quota. */
  userQuotaBytes: number | undefined;
  /** Files of tasks finished longer ago than this are deleted; undefined: kept forever. */
  filesRetentionDays: number | undefined;
  /** Solver logs likewise. */
  logRetentionDays: number | undefined;
  /** How often the retention sweep runs. */
  retentionIntervalSeconds: number;
  /** Webhook receivers of task events. */
  webhookUrls: string[];
  /** HMAC-SHA256 key of the X-Speos-Portal-Signature header; undefined: unsigned. */
  webhookSecret: string | undefined;
  /** smtp://user:pass@host:port or smtps://…; undefined: no e-mail. */
  smtpUrl: string | undefined;
  /** The From of notification e-mails. */
  notifyFrom: string;
  /** How long a notification is retried before it is given up. */
  notifyGiveUpHours: number;
  /** How often the outbox is looked at for due notifications. */
  notifyIntervalSeconds: number;
}

export function loadKeepingConfig(env: Env): KeepingConfig {
  // Checked like other URLs, but kept exactly as given: a trailing slash may matter to a receiver.
  const webhookUrls = readList(env, 'NOTIFY_WEBHOOK_URLS').map((u) => {
    url({ NOTIFY_WEBHOOK_URLS: u }, 'NOTIFY_WEBHOOK_URLS', u);
    return u;
  });
  const webhookSecret = readText(env, 'NOTIFY_WEBHOOK_SECRET');
  if (webhookSecret !== undefined && webhookSecret.length < 16) {
    throw new ConfigError(
      'NOTIFY_WEBHOOK_SECRET',
      'must be at least 16 characters (receivers check the signature with it)',
    );
  }
  const smtpUrl = readText(env, 'SMTP_URL');
  if (smtpUrl !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(smtpUrl);
    } catch {}
    if (!parsed || (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:')) {
      throw new ConfigError('SMTP_URL', 'expected smtp://user:password@host:port or smtps://… (TLS from the start)');
    }
  }
  const notifyFrom = readText(env, 'NOTIFY_FROM')!;
  if (!/@/.test(notifyFrom)) throw new ConfigError('NOTIFY_FROM', `expected an e-mail address, got "${notifyFrom}"`);
  return {
    userQuotaBytes: readOptional(env, 'USER_QUOTA_BYTES', readInteger),
    filesRetentionDays: readOptional(env, 'FILES_RETENTION_DAYS', readNumber),
    logRetentionDays: readOptional(env, 'LOG_RETENTION_DAYS', readNumber),
    retentionIntervalSeconds: readInteger(env, 'RETENTION_INTERVAL_SECONDS'),
    webhookUrls,
    webhookSecret,
    smtpUrl,
    notifyFrom,
    notifyGiveUpHours: readNumber(env, 'NOTIFY_GIVE_UP_HOURS'),
    notifyIntervalSeconds: readNumber(env, 'NOTIFY_INTERVAL_SECONDS'),
  };
}
