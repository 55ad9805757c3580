/** Opens the metadata database: SQLite in DATA_DIR by default (DATABASE_URL may point elsewhere). */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Kysely, SqliteDialect } from 'kysely';
import Sqlite from 'libsql';
import { ConfigError } from '../config.js';
import { migrateToLatest } from './migrations.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;

function sqlitePath(databaseUrl: string | undefined, dataDir: string): string {
  if (!databaseUrl) return path.join(dataDir, 'speos-portal.db');
  if (databaseUrl.startsWith('sqlite:')) return path.resolve(databaseUrl.slice('sqlite:'.length).replace(/^\/\//, ''));
  if (/^postgres(ql)?:/.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL', 'PostgreSQL is not available in this version yet; unset it to use SQLite');
  }
  throw new ConfigError('DATABASE_URL', `expected sqlite:/path/file.db, got "${databaseUrl}"`);
}

/** Opens (creating if needed) and migrates the database. */
export async function openDatabase(databaseUrl: string | undefined, dataDir: string): Promise<Db> {
  const file = sqlitePath(databaseUrl, dataDir);
  mkdirSync(path.dirname(file), { recursive: true });
  const sqlite = new Sqlite(file);
  // WAL lets readers run beside the writer; synchronous=FULL makes every commit durable
  // before we answer (a 200 must survive kill -9 and power loss alike).
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = FULL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrateToLatest(db as unknown as Kysely<unknown>);
  return db;
}
