/**
 * Migration 0003: answers remembered per Idempotency-Key, so a client that lost the
 * answer to a retry or a form submission can send it again without a second task.
 * In the database (not in memory) so it holds across restarts and several servers.
 */
import type { Kysely, Migration } from 'kysely';

export const idempotencyMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('idempotency_keys')
      // The user the key belongs to ('' when auth is off): keys are scoped per user.
      .addColumn('scope', 'varchar(100)', (c) => c.notNull())
      .addColumn('key', 'varchar(255)', (c) => c.notNull())
      .addColumn('fingerprint', 'varchar(64)', (c) => c.notNull())
      .addColumn('response', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('idempotency_keys_pk', ['scope', 'key'])
      .execute();
    await db.schema.createIndex('idempotency_keys_created').on('idempotency_keys').column('created_at').execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('idempotency_keys').execute();
  },
};
