/**
 * Migration 0002: what the worker needs — a lease on running tasks, a stop request, the
 * solver's log (in the database, so every API server can read what any worker wrote)
 * and the list of result files (the files themselves are in the object store).
 */
import type { Kysely, Migration } from 'kysely';

export const workerMigration: Migration = {
  async up(db: Kysely<unknown>) {
    const columns: [string, 'varchar(100)' | 'bigint' | 'integer' | 'text', boolean][] = [
      ['lease_owner', 'varchar(100)', false],
      ['lease_expires_at', 'bigint', false],
      ['attempts', 'integer', true],
      ['cancel_requested', 'integer', true],
      ['terminated_processes', 'text', false],
      ['log_size', 'bigint', true],
    ];
    for (const [name, type, zeroDefault] of columns) {
      await db.schema
        .alterTable('tasks')
        .addColumn(name, type, (c) => (zeroDefault ? c.notNull().defaultTo(0) : c))
        .execute();
    }
    await db.schema
      .createTable('task_logs')
      .addColumn('task_id', 'varchar(36)', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('start', 'bigint', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('task_logs_pk', ['task_id', 'seq'])
      .execute();
    await db.schema
      .createTable('task_outputs')
      .addColumn('task_id', 'varchar(36)', (c) => c.notNull())
      .addColumn('path', 'varchar(1024)', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('object_key', 'varchar(1200)', (c) => c.notNull())
      .addPrimaryKeyConstraint('task_outputs_pk', ['task_id', 'path'])
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('task_outputs').execute();
    await db.schema.dropTable('task_logs').execute();
    for (const name of [
      'lease_owner',
      'lease_expires_at',
      'attempts',
      'cancel_requested',
      'terminated_processes',
      'log_size',
    ]) {
      await db.schema.alterTable('tasks').dropColumn(name).execute();
    }
  },
};
