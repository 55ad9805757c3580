/**
 * Every environment variable of the server and the worker, in one TypeBox schema: its type,
 * default and bounds, and the one parser for numbers, booleans and lists that reads them.
 * config.ts, worker/config.ts and auth/config.ts build their config objects from here; the
 * README's configuration table is checked against this list (settings.test.ts).
 *
 * Adding a setting: one entry here (type, default, bounds, description), one line where
 * its config object is built (`readInteger(env, 'MY_SETTING')`), one row in README.md.
 */
import { type TBoolean, type TInteger, type TNumber, type TSchema, type TString, Type } from '@sinclair/typebox';
import { DEFAULT_CHUNK_SIZE, DEFAULT_MAX_FILE_SIZE, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '@speos-portal/protocol';
import { ConfigError } from './config-error.js';

const integer = (value: number, minimum: number, maximum: number, description: string) =>
  Type.Integer({ default: value, minimum, maximum, description });
/** A number above 0 (fractions allowed: `WORKER_POLL_SECONDS=0.2`). */
const positive = (value: number, maximum: number, description: string) =>
  Type.Number({ default: value, exclusiveMinimum: 0, maximum, description });
const flag = (value: boolean, description: string) => Type.Boolean({ default: value, description });
const text = (description: string, value?: string) =>
  Type.String(value === undefined ? { description } : { default: value, description });

export const SETTINGS = {
  // The API server (config.ts)
  PORT: integer(8000, 0, 65535, 'port to listen on'),
  HOST: text('address to listen on', '127.0.0.1'),
  PUBLIC_URL: text('base of the upload URLs handed to clients (default http://HOST:PORT)'),
  DATA_DIR: text('SQLite database, stored files and the URL-signing key', './data'),
  DATABASE_URL: text('postgres://… or sqlite:/path/file.db (default: SQLite in DATA_DIR)'),
  DATABASE_WAIT_SECONDS: integer(60, 0, 3600, 'at start-up, how long to wait for PostgreSQL'),
  SQLITE_SYNCHRONOUS: text('FULL, NORMAL or EXTRA', 'FULL'),
  STORAGE: text('fs or s3', 'fs'),
  S3_BUCKET: text('the bucket, with STORAGE=s3'),
  S3_ENDPOINT: text("the store's URL (default: AWS)"),
  S3_REGION: text("the store's signing region", 'us-east-1'),
  S3_ACCESS_KEY_ID: text('credentials (both or neither; default: the AWS chain)'),
  S3_SECRET_ACCESS_KEY: text('credentials (both or neither)'),
  S3_FORCE_PATH_STYLE: flag(false, 'true for MinIO, Ceph RGW and Swift'),
  S3_PUBLIC_ENDPOINT: text("the store's URL as browsers reach it (default S3_ENDPOINT)"),
  MAX_FILE_SIZE: integer(DEFAULT_MAX_FILE_SIZE, 1, 5 * 1024 ** 4, 'largest accepted file, bytes'),
  CHUNK_SIZE: integer(DEFAULT_CHUNK_SIZE, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE, 'default part size, bytes'),
  URL_TTL_SECONDS: integer(3600, 1, 7 * 24 * 3600, 'how long an upload URL is valid'),
  UPLOAD_TTL_HOURS: integer(72, 1, 24 * 365, 'unfinished uploads older than this are expired'),
  UPLOAD_EXPIRY_INTERVAL_SECONDS: integer(600, 1, 24 * 3600, 'how often the expiry sweep runs'),
  AUTH_TOKENS: text('token1:alice,token2:bob — bearer tokens and their users'),
  CORS_ORIGINS: text('allowed browser origins, comma-separated', '*'),
  SPEOS_VERSIONS: text('versions a job may ask for; the first is the default', 'v252,v251,v242,v241,v232'),
  SPEOS_PROFILES: text('profiles offered to clients', 'Standard,High Quality,Fast Preview'),
  MAX_THREAD_COUNT: integer(64, 1, 4096, 'largest thread_count a job may ask for'),
  SIGNING_KEY: text('HMAC key for upload URLs, ≥ 32 characters (default: generated in DATA_DIR)'),
  LOG_LEVEL: text('fatal, error, warn, info, debug, trace or silent', 'info'),
  SHUTDOWN_GRACE_SECONDS: integer(30, 0, 3600, 'on SIGTERM, how long requests in flight may take'),
  HASH_THREADS: integer(1, 0, 16, 'worker threads computing part MD5s'),
  IDEMPOTENCY_TTL_HOURS: integer(24, 1, 24 * 365, 'how long an Idempotency-Key answer is kept'),
  WEB_DIR: text('the built web UI served at / (default packages/web/dist)'),
  CLI_DOWNLOADS_DIR: text('the command-line tool builds served under /downloads (default dist/cli)'),
  // Sign-in (auth/config.ts)
  OIDC_ISSUER: text("the OpenID provider's issuer URL; turns sign-in on"),
  OIDC_CLIENT_ID: text("the portal's client at the provider"),
  OIDC_CLIENT_SECRET: text("the client's secret (unset for a public client)"),
  OIDC_SCOPES: text('scopes asked for', 'openid profile email'),
  OIDC_GROUPS_CLAIM: text('claim holding the groups', 'groups'),
  OIDC_ADMIN_GROUPS: text('members of these groups are admins'),
  ADMIN_USERS: text('admins by email, OIDC subject or AUTH_TOKENS user'),
  SESSION_SECRET: text('≥ 32 random characters; encrypts sign-in cookies'),
  SESSION_IDLE_MINUTES: integer(480, 1, 60 * 24 * 30, 'a session ends after this long unused'),
  SESSION_MAX_HOURS: integer(24, 1, 24 * 90, 'a session ends this long after sign-in'),
  // Retention, quotas and notifications (config.ts, loadKeepingConfig)
  USER_QUOTA_BYTES: Type.Integer({
    minimum: 1,
    maximum: Number.MAX_SAFE_INTEGER,
    description: 'stored bytes allowed per user (default: no quota)',
  }),
  FILES_RETENTION_DAYS: Type.Number({
    exclusiveMinimum: 0,
    maximum: 36500,
    description: 'inputs and results of tasks finished longer ago are deleted (default: kept)',
  }),
  LOG_RETENTION_DAYS: Type.Number({
    exclusiveMinimum: 0,
    maximum: 36500,
    description: 'solver logs of tasks finished longer ago are deleted (default: kept)',
  }),
  RETENTION_INTERVAL_SECONDS: integer(3600, 1, 7 * 24 * 3600, 'how often the retention sweep runs'),
  NOTIFY_WEBHOOK_URLS: text('URLs that get a POST of each task event, comma-separated'),
  NOTIFY_WEBHOOK_SECRET: text('≥ 16 characters: HMAC-SHA256 key of X-Speos-Portal-Signature'),
  NOTIFY_GIVE_UP_HOURS: positive(24, 24 * 30, 'how long a failing notification is retried'),
  NOTIFY_INTERVAL_SECONDS: positive(5, 3600, 'how often the outbox is looked at'),
  SMTP_URL: text('smtp://user:password@host:587 or smtps://…: e-mail task owners'),
  NOTIFY_FROM: text('the From of notification e-mails', 'speos-portal <speos-portal@localhost>'),
  // The worker (worker/config.ts)
  SPEOS_COMMAND: text('solver command for every SPEOS version (SPEOS_COMMAND_<VERSION> for one)'),
  WORKER_ID: text('names this worker in leases and logs (default HOSTNAME-PID)'),
  WORKER_SLOTS: positive(1, 256, 'jobs one worker runs at once'),
  WORKER_DIR: text('per-task working directories (default DATA_DIR/work)'),
  WORKER_KEEP_DIRS: flag(false, 'keep working directories after a run (for debugging)'),
  WORKER_LEASE_SECONDS: positive(30, 3600, 'a worker silent this long loses its task'),
  WORKER_MAX_ATTEMPTS: positive(3, 100, 'claims per task before a lost worker fails it'),
  WORKER_OUTAGE_WAIT_HOURS: positive(24, 24 * 30, 'how long a run waits for an unreachable backend'),
  WORKER_STOP_GRACE_SECONDS: positive(10, 3600, 'after stop, SIGTERM → this long → SIGKILL'),
  WORKER_POLL_SECONDS: positive(2, 600, 'how often an idle worker looks for work'),
  SPEOS_PROGRESS_PATTERNS: text('JSON of regular expressions that read progress'),
  EXTRACT_MAX_RATIO: positive(20, 100_000, 'how far an input archive may expand'),
  EXTRACT_MAX_ENTRIES: positive(100_000, 100_000_000, 'entries one input archive may hold'),
  ZIP_FILENAME_ENCODING: text('how zip names without the UTF-8 flag are read', 'auto'),
  // Where solvers run, and licence pools (worker/config.ts; README "Running on Slurm")
  EXECUTOR: text('local (child processes) or slurm (batch jobs)', 'local'),
  SLURM_WORKDIR_ROOT: text('with EXECUTOR=slurm: absolute path the compute nodes share'),
  SLURM_SBATCH_ARGS: text('site options for every sbatch, split into words'),
  SLURM_POLL_SECONDS: positive(3, 600, 'how often a worker reads squeue --json and the jobs’ output'),
  SLURM_CONF: text("the slurm.conf Slurm's commands read (default Slurm's own)"),
  LICENSES: text('licence pools, name:count separated by commas (speos:4)'),
} satisfies Record<string, TSchema>;

export type SettingName = keyof typeof SETTINGS;
type NamesOf<T> = { [K in SettingName]: (typeof SETTINGS)[K] extends T ? K : never }[SettingName];

/** Settings named by a pattern rather than one name, as the README's table writes them. */
export const SETTING_FAMILIES = [{ readme: 'SPEOS_COMMAND_<VERSION>', pattern: /^SPEOS_COMMAND_[A-Za-z0-9]+$/ }];

/** The whole environment as one TypeBox object (every variable optional, as strings arrive). */
export const SettingsSchema = Type.Partial(Type.Object(SETTINGS));

type Env = Record<string, string | undefined>;

/** The trimmed value, or undefined when unset or blank (blank means "use the default"). */
export function readText(env: Env, name: NamesOf<TString>): string | undefined {
  const raw = env[name]?.trim();
  if (raw) return raw;
  return (SETTINGS[name] as TString).default as string | undefined;
}

/** A whole number within the setting's bounds; its default when unset. */
export function readInteger(env: Env, name: NamesOf<TInteger>): number {
  const schema: TInteger = SETTINGS[name];
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return schema.default as number;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const value = Number(raw);
  const [min, max] = [schema.minimum!, schema.maximum!];
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** A number above 0 (fractions allowed) up to the setting's maximum; its default when unset. */
export function readNumber(env: Env, name: NamesOf<TNumber>): number {
  const schema: TNumber = SETTINGS[name];
  const raw = env[name]?.trim();
  if (!raw) return schema.default as number;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value > schema.maximum!) {
    throw new ConfigError(name, `must be a number above 0 and at most ${schema.maximum}, got "${raw}"`);
  }
  return value;
}

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];

/** true/1/yes/on or false/0/no/off, any case; its default when unset. */
export function readBoolean(env: Env, name: NamesOf<TBoolean>): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return SETTINGS[name].default as boolean;
  if (TRUE.includes(raw)) return true;
  if (FALSE.includes(raw)) return false;
  throw new ConfigError(name, `expected true or false, got "${env[name]}"`);
}

/** Comma-separated values (blanks dropped); the default's items when unset. */
export function readList(env: Env, name: NamesOf<TString>): string[] {
  const raw = env[name]?.trim();
  const fallback = (SETTINGS[name] as TString).default as string | undefined;
  const split = (text: string) =>
    text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (!raw) return fallback === undefined ? [] : split(fallback);
  const items = split(raw);
  if (items.length === 0) throw new ConfigError(name, 'must list at least one value, separated by commas');
  return items;
}

/** A setting without a default: undefined when unset, otherwise read by `read` (bounds checked). */
export function readOptional<N extends SettingName>(
  env: Env,
  name: N,
  read: (env: Env, name: N) => number,
): number | undefined {
  return env[name]?.trim() ? read(env, name) : undefined;
}
