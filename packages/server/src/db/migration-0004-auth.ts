/**
 * Migration 0003: people who sign in with an OpenID provider (users), their browser
 * sessions, their personal API tokens and pending `speos-portal login` requests.
 * tasks.owner / uploads.owner stay a string: an AUTH_TOKENS user name as before, or for a
 * signed-in person the users.user_id (`oidc:` + a hash of issuer and subject; user names
 * from AUTH_TOKENS cannot contain ':', so the two never collide).
 */
import type { Kysely, Migration } from 'kysely';

export const authMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('users')
      .addColumn('user_id', 'varchar(100)', (c) => c.primaryKey())
      .addColumn('issuer', 'varchar(512)', (c) => c.notNull())
      .addColumn('subject', 'varchar(255)', (c) => c.notNull())
      .addColumn('name', 'varchar(255)')
      .addColumn('email', 'varchar(320)')
      // JSON array of the groups claim at the last sign-in.
      .addColumn('groups', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_login_at', 'bigint', (c) => c.notNull())
      .execute();
    // No unique index on (issuer, subject): user_id is derived from them, so the primary key
    // already makes them unique, and a second unique index would turn two first sign-ins at
    // once into a unique violation on PostgreSQL (ON CONFLICT names one index).

    await db.schema
      .createTable('sessions')
      // sha256 of the session id in the cookie: a copy of the database cannot be replayed as a cookie.
      .addColumn('session_hash', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('user_id', 'varchar(100)', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      // For the provider's logout (id_token_hint).
      .addColumn('id_token', 'text')
      .execute();
    await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
    await db.schema.createIndex('sessions_expires').on('sessions').column('expires_at').execute();

    await db.schema
      .createTable('api_tokens')
      .addColumn('token_id', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('user_id', 'varchar(100)', (c) => c.notNull())
      .addColumn('name', 'varchar(100)', (c) => c.notNull())
      .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
      // The prefix and last characters (spt_AbCd…wXyZ), to tell tokens apart in a list.
      .addColumn('hint', 'varchar(40)', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_used_at', 'bigint')
      .addColumn('expires_at', 'bigint')
      .execute();
    await db.schema.createIndex('api_tokens_user').on('api_tokens').column('user_id').execute();

    await db.schema
      .createTable('device_logins')
      .addColumn('device_hash', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('user_code', 'varchar(16)', (c) => c.notNull().unique())
      .addColumn('client_name', 'varchar(100)', (c) => c.notNull())
      // pending → approved | denied → issued
      .addColumn('status', 'varchar(20)', (c) => c.notNull())
      .addColumn('user_id', 'varchar(100)')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('last_poll_at', 'bigint')
      .execute();
  },
  async down(db: Kysely<unknown>) {
    for (const table of ['device_logins', 'api_tokens', 'sessions', 'users']) {
      await db.schema.dropTable(table).execute();
    }
  },
};
