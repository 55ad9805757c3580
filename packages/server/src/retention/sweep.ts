/**
 * Retention (FILES_RETENTION_DAYS, LOG_RETENTION_DAYS): the inputs and results of tasks
 * that finished longer ago are deleted from storage, their solver logs from the database.
 * The task, its history and its file list stay; downloads answer 410 FILES_EXPIRED.
 *
 * Restart-safe in two steps: a task is first marked (files_expired_at, compare-and-set, so
 * a concurrent pin wins or loses cleanly), then its objects are deleted and it is marked
 * purged (files_purged_at). A sweep cut off between the two finds the task marked but not
 * purged and finishes it; deleting an object twice is harmless.
 *
 * An input upload is deleted only when no task that still keeps its files uses it: a
 * retry shares its parent's inputs, so they stay until the last of them expires. Pinned
 * tasks are skipped. One server at a time sweeps (a PostgreSQL advisory lock, as the
 * upload expiry does); each step works in batches.
 */
import type { Clock } from '../clock.js';
import type { Db } from '../db/connect.js';
import { lockKey, onOneServer, type PeriodicJob, startPeriodicJob } from '../db/one-server.js';
import type { Database, TaskRow } from '../db/schema.js';
import type { Logger } from '../logger.js';
import type { ObjectStore } from '../storage/object-store.js';

/** "SPEOSret" as an int64; distinct from the upload expiry's key. */
const ADVISORY_LOCK_KEY = lockKey('6003231012479562100');
const DEFAULT_BATCH = 100;
const DAY = 24 * 3600 * 1000;
/** Tasks whose run is over: their files are what retention may delete. */
export const RUN_ENDED = ['SUCCESS', 'FAILURE', 'CANCELLED'];

export interface RetentionDeps {
  db: Db;
  store: ObjectStore;
  clock: Clock;
  filesDays: number | undefined;
  logDays: number | undefined;
  log?: Logger | undefined;
  /** Tasks per batch (default 100); tests use small ones. */
  batchSize?: number;
}

export interface RetentionResult {
  /** False when another server holds the lock and did this sweep. */
  ran: boolean;
  /** Tasks whose files this sweep deleted. */
  filesExpired: string[];
  /** Tasks whose solver log this sweep deleted. */
  logsExpired: string[];
}

/** Marks due tasks (finished before the cutoff, not pinned) as having expired files. */
async function markDue(db: Db, now: number, cutoff: number, BATCH: number): Promise<void> {
  for (;;) {
    const due = await db
      .selectFrom('tasks')
      .select('task_id')
      .where('status', 'in', RUN_ENDED)
      .where('finished_at', '<', cutoff)
      .where('pinned', '=', 0)
      .where('files_expired_at', 'is', null)
      .limit(BATCH)
      .execute();
    if (due.length === 0) return;
    await db
      .updateTable('tasks')
      .set({ files_expired_at: now })
      .where(
        'task_id',
        'in',
        due.map((t) => t.task_id),
      )
      .where('pinned', '=', 0)
      .where('files_expired_at', 'is', null)
      .execute();
    if (due.length < BATCH) return;
  }
}

/** Deletes an input upload's object unless a task that keeps its files still uses it. */
async function releaseInput(deps: RetentionDeps, uploadId: string, now: number): Promise<void> {
  const { db, store } = deps;
  const released = await db.transaction().execute(async (trx) => {
    const upload = await trx.selectFrom('uploads').selectAll().where('upload_id', '=', uploadId).executeTakeFirst();
    if (!upload || (upload.status !== 'COMPLETED' && upload.status !== 'EXPIRED')) return undefined;
    const stillNeeded = await trx
      .selectFrom('tasks')
      .select('task_id')
      .where((eb) => eb.or([eb('master_upload_id', '=', uploadId), eb('include_upload_id', '=', uploadId)]))
      .where('files_expired_at', 'is', null)
      .executeTakeFirst();
    if (stillNeeded) return undefined;
    await trx
      .updateTable('uploads')
      .set({ status: 'EXPIRED', updated_at: now })
      .where('upload_id', '=', uploadId)
      .where('status', '=', 'COMPLETED')
      .execute();
    return upload;
  });
  if (released) await store.deleteObject(released.object_key);
}

/** Deletes a marked task's result objects and the inputs nobody else needs; then marks it purged. */
async function purge(deps: RetentionDeps, task: TaskRow, now: number): Promise<void> {
  const outputs = await deps.db
    .selectFrom('task_outputs')
    .select('object_key')
    .where('task_id', '=', task.task_id)
    .execute();
  for (const { object_key } of outputs) await deps.store.deleteObject(object_key);
  for (const uploadId of [task.master_upload_id, task.include_upload_id]) {
    if (uploadId) await releaseInput(deps, uploadId, now);
  }
  await deps.db.updateTable('tasks').set({ files_purged_at: now }).where('task_id', '=', task.task_id).execute();
}

async function expireFiles(deps: RetentionDeps, now: number): Promise<string[]> {
  const done: string[] = [];
  const BATCH = deps.batchSize ?? DEFAULT_BATCH;
  if (deps.filesDays !== undefined) await markDue(deps.db, now, now - deps.filesDays * DAY, BATCH);
  // Also tasks marked by an earlier sweep that stopped half-way (or before a restart).
  const failed = new Set<string>();
  for (;;) {
    let query = deps.db
      .selectFrom('tasks')
      .selectAll()
      .where('files_expired_at', 'is not', null)
      .where('files_purged_at', 'is', null);
    if (failed.size > 0) query = query.where('task_id', 'not in', [...failed]);
    const batch = await query.orderBy('files_expired_at').limit(BATCH).execute();
    for (const task of batch) {
      try {
        await purge(deps, task, now);
        done.push(task.task_id);
      } catch (error) {
        // Left marked: the next sweep tries again.
        failed.add(task.task_id);
        deps.log?.warn({ err: error, task_id: task.task_id }, 'retention: deleting the files of a task failed');
      }
    }
    if (batch.length < BATCH) break;
  }
  return done;
}

async function expireLogs(deps: RetentionDeps, now: number): Promise<string[]> {
  if (deps.logDays === undefined) return [];
  const cutoff = now - deps.logDays * DAY;
  const BATCH = deps.batchSize ?? DEFAULT_BATCH;
  const done: string[] = [];
  for (;;) {
    const due = await deps.db
      .selectFrom('tasks')
      .select('task_id')
      .where('status', 'in', RUN_ENDED)
      .where('finished_at', '<', cutoff)
      .where('pinned', '=', 0)
      .where('logs_expired_at', 'is', null)
      .limit(BATCH)
      .execute();
    for (const { task_id } of due) {
      // One transaction per task: the log goes exactly when the task says it went.
      const moved = await deps.db.transaction().execute(async (trx) => {
        const marked = await trx
          .updateTable('tasks')
          .set({ logs_expired_at: now })
          .where('task_id', '=', task_id)
          .where('pinned', '=', 0)
          .where('logs_expired_at', 'is', null)
          .executeTakeFirst();
        if (Number(marked.numUpdatedRows) === 0) return false;
        await trx.deleteFrom('task_logs').where('task_id', '=', task_id).execute();
        return true;
      });
      if (moved) done.push(task_id);
    }
    if (due.length < BATCH) break;
  }
  return done;
}

/** One sweep: files, then logs. */
export async function sweepRetention(deps: RetentionDeps): Promise<RetentionResult> {
  const sweep = async (): Promise<RetentionResult> => {
    const now = deps.clock();
    const filesExpired = await expireFiles(deps, now);
    const logsExpired = await expireLogs(deps, now);
    if (filesExpired.length + logsExpired.length > 0) {
      deps.log?.info(
        { files: filesExpired.length, logs: logsExpired.length },
        'retention: deleted the files and logs of tasks past their retention',
      );
    }
    return { ran: true, filesExpired, logsExpired };
  };
  return onOneServer(deps.db, ADVISORY_LOCK_KEY, sweep, () => ({ ran: false, filesExpired: [], logsExpired: [] }));
}

export type RetentionJob = PeriodicJob<RetentionResult>;

/** Sweeps every `intervalSeconds`, the first right away; see startPeriodicJob. */
export function startRetention(deps: RetentionDeps & { intervalSeconds: number }): RetentionJob {
  return startPeriodicJob(() => sweepRetention(deps), {
    intervalSeconds: deps.intervalSeconds,
    what: 'retention sweep',
    log: deps.log,
  });
}
