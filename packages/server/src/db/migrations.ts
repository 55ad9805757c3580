/**
 * Schema migrations, written once in Kysely's schema builder so SQLite and PostgreSQL
 * share them. Applied at start-up; each runs once (kysely_migration table).
 */
import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';
import { workerMigration } from './migration-0002-worker.js';
import { idempotencyMigration } from './migration-0003-idempotency.js';
import { authMigration } from './migration-0004-auth.js';
import { retentionNotifyMigration } from './migration-0007-retention-notify.js';

const migrations: Record<string, Migration> = {
  '0001_tasks_uploads_history': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('tasks')
        .addColumn('task_id', 'varchar(36)', (c) => c.primaryKey())
        .addColumn('owner', 'varchar(100)')
        .addColumn('status', 'varchar(20)', (c) => c.notNull())
        .addColumn('job_name', 'varchar(200)')
        .addColumn('display_name', 'varchar(200)')
        .addColumn('submitter', 'varchar(100)')
        .addColumn('solver_type', 'varchar(20)', (c) => c.notNull().defaultTo('speos'))
        .addColumn('profile_name', 'varchar(100)')
        .addColumn('version', 'varchar(20)')
        .addColumn('thread_count', 'integer')
        .addColumn('priority', 'integer')
        .addColumn('params', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('master_upload_id', 'varchar(255)')
        .addColumn('include_upload_id', 'varchar(255)')
        .addColumn('confirm_digest', 'varchar(64)')
        .addColumn('progress_info', 'text')
        .addColumn('message', 'text')
        .addColumn('error_detail', 'text')
        .addColumn('parent_task_id', 'varchar(36)')
        .addColumn('retry_count', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('started_at', 'bigint')
        .addColumn('finished_at', 'bigint')
        .execute();
      await db.schema.createIndex('tasks_owner_created').on('tasks').columns(['owner', 'created_at']).execute();
      await db.schema.createIndex('tasks_status_created').on('tasks').columns(['status', 'created_at']).execute();
      await db.schema.createIndex('tasks_parent').on('tasks').column('parent_task_id').execute();

      await db.schema
        .createTable('uploads')
        // S3 upload ids are opaque and long (AWS and MinIO: 100+ characters); PostgreSQL enforces lengths.
        .addColumn('upload_id', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('task_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('owner', 'varchar(100)')
        .addColumn('file_type', 'varchar(10)', (c) => c.notNull())
        .addColumn('object_key', 'varchar(1024)', (c) => c.notNull())
        .addColumn('filename', 'varchar(255)', (c) => c.notNull())
        .addColumn('content_type', 'varchar(255)', (c) => c.notNull())
        .addColumn('file_size', 'bigint', (c) => c.notNull())
        .addColumn('chunk_size', 'bigint', (c) => c.notNull())
        .addColumn('total_chunks', 'integer', (c) => c.notNull())
        .addColumn('status', 'varchar(20)', (c) => c.notNull())
        .addColumn('etag', 'varchar(100)')
        .addColumn('parts_digest', 'varchar(64)')
        .addColumn('completed_parts', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('completed_at', 'bigint')
        .execute();
      await db.schema.createIndex('uploads_task').on('uploads').column('task_id').execute();
      await db.schema.createIndex('uploads_object_key').on('uploads').column('object_key').execute();
      await db.schema.createIndex('uploads_status_created').on('uploads').columns(['status', 'created_at']).execute();

      await db.schema
        .createTable('task_status_history')
        .addColumn('task_id', 'varchar(36)', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('status', 'varchar(20)', (c) => c.notNull())
        .addColumn('message', 'text')
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('task_status_history_pk', ['task_id', 'seq'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('task_status_history').execute();
      await db.schema.dropTable('uploads').execute();
      await db.schema.dropTable('tasks').execute();
    },
  },
  '0002_worker': workerMigration,
  '0003_idempotency_keys': idempotencyMigration,
  '0004_auth': authMigration,
  // What a run's operator needs and its user must not see (paths, the command line, worker
  // errors): kept apart from error_detail, for the worker's log and a later admin view.
  '0005_internal_detail': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('tasks').addColumn('internal_detail', 'text').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('tasks').dropColumn('internal_detail').execute();
    },
  },
  // Each result file's CRC-32, so outputs.zip can be laid out (and resumed with Range)
  // before a byte of it is read. Rows from before it are filled in on first download.
  '0006_output_crc32': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('task_outputs').addColumn('crc32', 'bigint').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('task_outputs').dropColumn('crc32').execute();
    },
  },
  '0007_retention_quotas_notify': retentionNotifyMigration,
  // The Slurm executor: the job of a task's run (so that a restarted worker follows it again
  // instead of submitting another) and what Slurm last said about it while it waits.
  '0008_slurm_executor': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('tasks').addColumn('slurm_job_id', 'text').execute();
      await db.schema.alterTable('tasks').addColumn('slurm_state', 'text').execute();
      await db.schema.alterTable('tasks').addColumn('slurm_reason', 'text').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.alterTable('tasks').dropColumn('slurm_reason').execute();
      await db.schema.alterTable('tasks').dropColumn('slurm_state').execute();
      await db.schema.alterTable('tasks').dropColumn('slurm_job_id').execute();
    },
  },
  // Licence pools for the local executor (LICENSES): each pool's size, and which running
  // task holds one. A hold counts only while its task is RUNNING under a live lease, so a
  // lost worker's licence comes back when its lease lapses (worker/licenses.ts).
  '0009_licenses': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('license_pools')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('total', 'integer', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('license_holds')
        .addColumn('task_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('license_holds_pk', ['task_id', 'name'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('license_holds').execute();
      await db.schema.dropTable('license_pools').execute();
    },
  },
  // Workers say they are alive here, so the portal can tell users that nobody will run
  // their job (GET /workers, a pending task's queue_reason).
  '0010_workers': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('workers')
        .addColumn('worker_id', 'varchar(100)', (c) => c.primaryKey())
        .addColumn('host', 'varchar(255)', (c) => c.notNull())
        .addColumn('versions', 'text', (c) => c.notNull())
        .addColumn('slots', 'integer', (c) => c.notNull())
        .addColumn('started_at', 'bigint', (c) => c.notNull())
        .addColumn('last_heartbeat', 'bigint', (c) => c.notNull())
        .addColumn('online_until', 'bigint', (c) => c.notNull())
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('workers').execute();
    },
  },
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Applies every pending migration; throws with the failing migration's name. */
export async function migrateToLatest(db: Kysely<unknown>): Promise<void> {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
