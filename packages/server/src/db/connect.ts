/**
 * Opens the metadata database: SQLite in DATA_DIR by default, PostgreSQL when DATABASE_URL
 * is `postgres://…` (several API servers share it). Both run the same migrations and the
 * same repository code.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Kysely, PostgresAdapter, PostgresDialect, SqliteDialect, sql } from 'kysely';
import Sqlite from 'libsql';
import { ConfigError } from '../config.js';
import { BackendHealth, isDatabaseUnavailable, observeDialect, unavailableReason } from './availability.js';
import { migrateToLatest } from './migrations.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

const HEALTH = new WeakMap<Db, BackendHealth>();

/**
 * Whether this process can reach `db` now (fed by every query of a Db opened here). A Db
 * made elsewhere gets a record that nothing reports to: always "up".
 */
export function databaseHealth(db: Db): BackendHealth {
  let health = HEALTH.get(db);
  if (!health) {
    health = new BackendHealth('database');
    HEALTH.set(db, health);
  }
  return health;
}

function observedKysely(dialect: PostgresDialect | SqliteDialect, health = new BackendHealth('database')): Db {
  const db = new Kysely<Database>({ dialect: observeDialect(dialect, health) });
  HEALTH.set(db, health);
  return db;
}

const POSTGRES_URL = /^postgres(ql)?:\/\//;

/** Which database a DATABASE_URL names (unset: SQLite in DATA_DIR). */
export function databaseKind(databaseUrl: string | undefined): 'sqlite' | 'postgres' {
  return databaseUrl && POSTGRES_URL.test(databaseUrl) ? 'postgres' : 'sqlite';
}

/** Whether an open database is PostgreSQL (row locks, advisory locks) rather than SQLite (one writer). */
export function isPostgres(db: Kysely<Database>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

function sqlitePath(databaseUrl: string | undefined, dataDir: string): string {
  if (!databaseUrl) return path.join(dataDir, 'speos-portal.db');
  if (databaseUrl.startsWith('sqlite:')) return path.resolve(databaseUrl.slice('sqlite:'.length).replace(/^\/\//, ''));
  throw new ConfigError('DATABASE_URL', 'expected postgres://user:password@host:port/database or sqlite:/path/file.db');
}

/** How SQLite makes commits durable: FULL (every commit, default), NORMAL or EXTRA. */
export type SqliteSynchronous = 'FULL' | 'NORMAL' | 'EXTRA';

function openSqlite(file: string, synchronous: SqliteSynchronous): Db {
  mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new Sqlite(file);
  // WAL lets readers run beside the writer; synchronous=FULL makes every commit durable
  // before we answer (a 200 must survive kill -9 and power loss alike). NORMAL doubles
  // commit throughput and still survives kill -9, but may lose the last commits on power loss.
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma(`synchronous = ${synchronous}`);
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  return observedKysely(new SqliteDialect({ database: sqlite }));
}

const INT8_OID = 20;

/**
 * A Kysely on PostgreSQL; `pool` sizes its connection pool (per process). `pg` is loaded
 * only here, so the embedded SQLite set-up never pays its memory.
 */
export async function openPostgres(databaseUrl: string, options: { pool?: number } = {}): Promise<Db> {
  const { default: pg } = await import('pg');
  // pg returns bigint (int8) columns and count(*) as strings, because they may exceed
  // 2^53. Our bigints are epoch milliseconds and byte sizes (≤ 5 TiB): safe as Numbers,
  // and the repository code expects the Numbers SQLite gives.
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === INT8_OID
        ? (value: string) => Number(value)
        : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
  };
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.pool ?? 10,
    types,
    // Fail a start-up against a wrong host quickly instead of hanging.
    connectionTimeoutMillis: 10_000,
    application_name: 'speos-portal',
  });
  const health = new BackendHealth('database');
  // A connection can drop at any time (a server restart sends every session 57P01). pg emits
  // that as an 'error' event: on the pool for an idle client, but on the client itself for
  // one that is checked out — and an 'error' event nobody listens to ends the process. The
  // query in flight fails on its own (and is answered 503); the broken client leaves the pool
  // when it is released, and the next query connects anew.
  const noted = (error: Error) => {
    if (isDatabaseUnavailable(error)) health.noteFailure(error);
  };
  pool.on('error', noted);
  pool.on('connect', (client) => client.on('error', noted));
  return observedKysely(new PostgresDialect({ pool }), health);
}

export interface OpenDatabaseOptions {
  sqliteSynchronous?: SqliteSynchronous;
  /**
   * How long to wait for a PostgreSQL server that cannot be reached yet (services starting
   * together) before failing; 0 fails at once.
   */
  waitSeconds?: number;
  /** Told about each attempt that found the database unreachable, before the pause. */
  onWait?: (attempt: { attempt: number; reason: string; retryInMs: number; waitedMs: number }) => void;
}

/** Opens (creating if needed) and migrates the database. */
export async function openDatabase(
  databaseUrl: string | undefined,
  dataDir: string,
  options: OpenDatabaseOptions = {},
): Promise<Db> {
  const db =
    databaseKind(databaseUrl) === 'postgres'
      ? await openPostgres(databaseUrl!)
      : openSqlite(sqlitePath(databaseUrl, dataDir), options.sqliteSynchronous ?? 'FULL');
  try {
    if (databaseKind(databaseUrl) === 'postgres') await waitForPostgres(db, databaseUrl!, options);
    await migrateToLatest(db as unknown as Kysely<unknown>);
  } catch (error) {
    // Opening failed: its error is the one to report; a pool that will not close holds no data.
    await db.destroy().catch(() => {});
    throw error;
  }
  return db;
}

/**
 * `select 1` until it answers. Only "cannot reach" is waited out (refused, starting up, DNS
 * not there yet); wrong credentials or a missing database fail at once.
 */
async function waitForPostgres(db: Db, databaseUrl: string, options: OpenDatabaseOptions): Promise<void> {
  const started = Date.now();
  const limitMs = (options.waitSeconds ?? 0) * 1000;
  for (let attempt = 1; ; attempt++) {
    try {
      await sql`select 1`.execute(db);
      return;
    } catch (error) {
      const waitedMs = Date.now() - started;
      const retryInMs = Math.min(5000, 500 * 2 ** (attempt - 1));
      if (isDatabaseUnavailable(error) && waitedMs + retryInMs <= limitMs) {
        options.onWait?.({ attempt, reason: unavailableReason(error), retryInMs, waitedMs });
        await sleep(retryInMs);
        continue;
      }
      const where = new URL(databaseUrl);
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      const waited = attempt > 1 ? `; waited ${Math.round(waitedMs / 1000)} s (DATABASE_WAIT_SECONDS)` : '';
      throw new Error(
        `DATABASE_URL: cannot connect to PostgreSQL at ${where.host}${where.pathname} (${reason}: ${(error as Error).message}${waited})`,
      );
    }
  }
}
