/**
 * Migration 0007: what a long-running shared portal needs (issue 17).
 * - tasks: pinned (a user keeps the files), files_expired_at (the retention sweep decided
 *   to delete the files; downloads answer 410 from then on), files_purged_at (the sweep
 *   finished deleting them — a sweep cut off between the two finishes the job next time),
 *   logs_expired_at (the solver log was deleted).
 * - notification_events: the durable outbox, one row per status change worth telling
 *   (keyed by the task's history seq, so a task's events have a fixed order).
 * - notification_deliveries: one row per event and destination (a webhook URL, "email"),
 *   with its attempts and next try.
 * - notification_preferences: a user's e-mail opt-out and language.
 */
import type { Kysely, Migration } from 'kysely';

export const retentionNotifyMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('tasks')
      .addColumn('pinned', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable('tasks').addColumn('files_expired_at', 'bigint').execute();
    await db.schema.alterTable('tasks').addColumn('files_purged_at', 'bigint').execute();
    await db.schema.alterTable('tasks').addColumn('logs_expired_at', 'bigint').execute();
    await db.schema.createIndex('tasks_finished_at').on('tasks').column('finished_at').execute();
    await db.schema.createIndex('uploads_owner_status').on('uploads').columns(['owner', 'status']).execute();

    await db.schema
      .createTable('notification_events')
      .addColumn('task_id', 'varchar(36)', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('event', 'varchar(32)', (c) => c.notNull())
      .addColumn('owner', 'varchar(200)')
      /** JSON of the task as GET /tasks/{id} showed it at the change. */
      .addColumn('payload', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      /** 1 once its deliveries were created. */
      .addColumn('fanned_out', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('notification_events_pk', ['task_id', 'seq'])
      .execute();
    await db.schema
      .createIndex('notification_events_pending')
      .on('notification_events')
      .columns(['fanned_out', 'created_at'])
      .execute();

    await db.schema
      .createTable('notification_deliveries')
      .addColumn('task_id', 'varchar(36)', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('target', 'varchar(1000)', (c) => c.notNull())
      /** PENDING | DELIVERED | FAILED (gave up) | SKIPPED (nothing to send, e.g. opted out) */
      .addColumn('status', 'varchar(16)', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('delivered_at', 'bigint')
      .addPrimaryKeyConstraint('notification_deliveries_pk', ['task_id', 'seq', 'target'])
      .execute();
    await db.schema
      .createIndex('notification_deliveries_due')
      .on('notification_deliveries')
      .columns(['status', 'next_attempt_at'])
      .execute();

    await db.schema
      .createTable('notification_preferences')
      .addColumn('owner', 'varchar(200)', (c) => c.primaryKey())
      .addColumn('email_enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .addColumn('language', 'varchar(8)', (c) => c.notNull().defaultTo('en'))
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('notification_preferences').execute();
    await db.schema.dropTable('notification_deliveries').execute();
    await db.schema.dropTable('notification_events').execute();
    await db.schema.dropIndex('uploads_owner_status').execute();
    await db.schema.dropIndex('tasks_finished_at').execute();
    for (const column of ['logs_expired_at', 'files_purged_at', 'files_expired_at', 'pinned']) {
      await db.schema.alterTable('tasks').dropColumn(column).execute();
    }
  },
};
