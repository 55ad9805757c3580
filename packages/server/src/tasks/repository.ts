/** SQL for tasks, uploads and status history, shared by SQLite and PostgreSQL. */
import type { FileType, TaskStatus } from '@speos-portal/protocol';
import { type ExpressionBuilder, type Kysely, sql, type Transaction } from 'kysely';
import type { Db } from '../db/connect.js';
import type { Database, NewTask, NewUpload, TaskRow, UploadRow } from '../db/schema.js';
import { recordTaskEvent } from '../notify/events.js';

type Executor = Kysely<Database> | Transaction<Database>;

/**
 * Whose rows a query may touch: an owner id (an AUTH_TOKENS user name, or `oidc:…` for a
 * signed-in person), or null for everyone's (auth off, or an admin reading tasks).
 */
export type Owner = string | null;

export async function findTask(db: Executor, taskId: string, owner: Owner): Promise<TaskRow | undefined> {
  let query = db.selectFrom('tasks').selectAll().where('task_id', '=', taskId);
  if (owner !== null) query = query.where('owner', '=', owner);
  return query.executeTakeFirst();
}

export async function findUpload(db: Executor, uploadId: string, owner: Owner): Promise<UploadRow | undefined> {
  let query = db.selectFrom('uploads').selectAll().where('upload_id', '=', uploadId);
  if (owner !== null) query = query.where('owner', '=', owner);
  return query.executeTakeFirst();
}

/** A task row in UPLOADING with every optional field empty, for `insertTask`. */
export function newTaskRow(fields: Pick<NewTask, 'task_id' | 'owner' | 'created_at'> & Partial<NewTask>): NewTask {
  return {
    status: 'UPLOADING',
    job_name: null,
    display_name: null,
    submitter: null,
    solver_type: 'speos',
    profile_name: null,
    version: null,
    thread_count: null,
    priority: null,
    params: '{}',
    master_upload_id: null,
    include_upload_id: null,
    confirm_digest: null,
    progress_info: null,
    message: null,
    error_detail: null,
    internal_detail: null,
    parent_task_id: null,
    retry_count: 0,
    updated_at: fields.created_at,
    started_at: null,
    finished_at: null,
    ...fields,
  };
}

export async function insertTask(db: Executor, task: NewTask): Promise<void> {
  await db.insertInto('tasks').values(task).execute();
  await appendHistory(db, task.task_id, task.status as TaskStatus, null, task.created_at);
}

export async function insertUpload(db: Executor, upload: NewUpload): Promise<void> {
  await db.insertInto('uploads').values(upload).execute();
}

/** Records a status change; `seq` keeps the order even within one millisecond. */
export async function appendHistory(
  db: Executor,
  taskId: string,
  status: TaskStatus,
  message: string | null,
  at: number,
): Promise<void> {
  const last = await db
    .selectFrom('task_status_history')
    .select((eb) => eb.fn.max('seq').as('seq'))
    .where('task_id', '=', taskId)
    .executeTakeFirst();
  const seq = Number(last?.seq ?? 0) + 1;
  await db.insertInto('task_status_history').values({ task_id: taskId, seq, status, message, at }).execute();
  // The notification outbox (notify/events.ts), beside the history entry it tells of.
  await recordTaskEvent(db, taskId, seq, status, at);
}

/**
 * Moves a task to `status` only if it is in one of `from` (compare-and-set, so two
 * concurrent requests cannot both make the same transition). Returns whether it moved.
 */
export async function transitionTask(
  db: Executor,
  taskId: string,
  from: TaskStatus[],
  status: TaskStatus,
  at: number,
  message: string | null,
  extra: Partial<Omit<TaskRow, 'task_id' | 'status'>> = {},
): Promise<boolean> {
  const result = await db
    .updateTable('tasks')
    .set({ ...extra, status, updated_at: at })
    .where('task_id', '=', taskId)
    .where('status', 'in', from)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) return false;
  await appendHistory(db, taskId, status, message, at);
  return true;
}

/**
 * The one rule for when an upload's end (abort, expiry) ends its task too: when it is the
 * task's master, or its only file (an include uploaded on its own, before its master).
 */
export function uploadDecidesTask(
  task: Pick<TaskRow, 'master_upload_id' | 'include_upload_id'> | undefined,
  uploadId: string,
): boolean {
  if (!task) return false;
  return task.master_upload_id === uploadId || (task.master_upload_id === null && task.include_upload_id === uploadId);
}

/** Whether any upload, of any status, ever used this object key (keys are never reused). */
export async function objectKeyInUse(db: Executor, objectKey: string): Promise<boolean> {
  const used = await db
    .selectFrom('uploads')
    .select('upload_id')
    .where('object_key', '=', objectKey)
    .executeTakeFirst();
  return used !== undefined;
}

/**
 * Puts an upload into a task's master or include slot by compare-and-set: only while the
 * task is UPLOADING and the slot still holds `replaces` (null: empty). Of concurrent
 * attempts exactly one returns true.
 */
export async function attachUploadToTask(
  db: Executor,
  taskId: string,
  fileType: FileType,
  uploadId: string,
  replaces: string | null,
  at: number,
): Promise<boolean> {
  const slot = fileType === 'master' ? 'master_upload_id' : 'include_upload_id';
  const attached = await db
    .updateTable('tasks')
    .set({ [slot]: uploadId, updated_at: at })
    .where('task_id', '=', taskId)
    .where('status', '=', 'UPLOADING')
    .where(slot, replaces === null ? 'is' : '=', replaces)
    .executeTakeFirst();
  return Number(attached.numUpdatedRows) > 0;
}

/** Marks an UPLOADING upload COMPLETED with what complete recorded; false if it was not UPLOADING. */
export async function markUploadCompleted(
  db: Executor,
  uploadId: string,
  completion: { etag: string; parts_digest: string; completed_parts: string },
  at: number,
): Promise<boolean> {
  const result = await db
    .updateTable('uploads')
    .set({ status: 'COMPLETED', ...completion, updated_at: at, completed_at: at })
    .where('upload_id', '=', uploadId)
    .where('status', '=', 'UPLOADING')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Ends an upload (ABORTED or EXPIRED) if it is in one of `from` (compare-and-set); whether it moved. */
export async function endUpload(
  db: Executor,
  uploadId: string,
  from: ('UPLOADING' | 'COMPLETED')[],
  status: 'ABORTED' | 'EXPIRED',
  at: number,
): Promise<boolean> {
  const result = await db
    .updateTable('uploads')
    .set({ status, updated_at: at })
    .where('upload_id', '=', uploadId)
    .where('status', 'in', from)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** A task past uploading (submitted, running, ended) that holds this upload as master or include. */
export async function findSubmittedTaskHolding(
  db: Executor,
  uploadId: string,
): Promise<Pick<TaskRow, 'task_id' | 'status'> | undefined> {
  return db
    .selectFrom('tasks')
    .select(['task_id', 'status'])
    .where((eb) => eb.or([eb('master_upload_id', '=', uploadId), eb('include_upload_id', '=', uploadId)]))
    .where('status', 'not in', ['UPLOADING', 'ABORTED', 'EXPIRED'])
    .executeTakeFirst();
}

/** The newest live (uploading or completed) include upload of `owner` with this object key. */
export async function findIncludeByObjectKey(
  db: Executor,
  objectKey: string,
  owner: Owner,
): Promise<UploadRow | undefined> {
  let query = db
    .selectFrom('uploads')
    .selectAll()
    .where('object_key', '=', objectKey)
    .where('file_type', '=', 'include')
    .where('status', 'in', ['UPLOADING', 'COMPLETED']);
  if (owner !== null) query = query.where('owner', '=', owner);
  return query.orderBy('created_at', 'desc').executeTakeFirst();
}

/**
 * Removes the placeholder task an include was uploaded under (no master, still UPLOADING)
 * once another task took the include in; its history goes with it.
 */
export async function removePlaceholderTask(db: Executor, taskId: string): Promise<void> {
  await db
    .deleteFrom('tasks')
    .where('task_id', '=', taskId)
    .where('master_upload_id', 'is', null)
    .where('status', '=', 'UPLOADING')
    .execute();
  await db.deleteFrom('task_status_history').where('task_id', '=', taskId).execute();
}

export async function statusHistory(db: Executor, taskId: string) {
  return db
    .selectFrom('task_status_history')
    .select(['status', 'message', 'at'])
    .where('task_id', '=', taskId)
    .orderBy('seq')
    .execute();
}

export interface TaskFilter {
  /** Whose tasks may be seen: null for everyone's (admins, auth off). */
  owner: Owner;
  /** The list's owner filter (an admin's choice; for others it can only narrow to their own). */
  ownedBy?: string;
  statuses?: string[];
  submitter?: string;
  query?: string;
}

/** Escapes LIKE wildcards so a search for "50%" means the characters 5, 0 and %. */
function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export async function listTasks(
  db: Db,
  filter: TaskFilter,
  page: number,
  pageSize: number,
): Promise<{ rows: TaskRow[]; total: number }> {
  let query = db.selectFrom('tasks');
  if (filter.owner !== null) query = query.where('owner', '=', filter.owner);
  if (filter.ownedBy !== undefined) query = query.where('owner', '=', filter.ownedBy);
  if (filter.statuses?.length) {
    // The API shows a task whose Slurm job has not started as PENDING (queue-position.ts).
    const statuses = filter.statuses;
    const slurmWaiting = (eb: ExpressionBuilder<Database, 'tasks'>) =>
      eb.and([eb('status', '=', 'RUNNING'), eb('slurm_state', '=', 'PENDING')]);
    query = query.where((eb) => {
      const listed = eb.and([
        eb('status', 'in', statuses),
        ...(statuses.includes('RUNNING') && !statuses.includes('PENDING')
          ? [eb.or([eb('slurm_state', 'is', null), eb('slurm_state', '!=', 'PENDING')])]
          : []),
      ]);
      if (statuses.includes('PENDING') && !statuses.includes('RUNNING')) return eb.or([listed, slurmWaiting(eb)]);
      return listed;
    });
  }
  if (filter.submitter) query = query.where('submitter', '=', filter.submitter);
  if (filter.query) {
    const pattern = likePattern(filter.query);
    // SQLite has no default LIKE escape character, and PostgreSQL's LIKE is case-sensitive
    // where SQLite's is not: name the escape and compare lower-cased on both.
    query = query.where(
      sql<boolean>`(lower(job_name) like lower(${pattern}) escape '\\' or lower(display_name) like lower(${pattern}) escape '\\')`,
    );
  }
  const total = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
  const rows = await query
    .selectAll()
    .orderBy('created_at', 'desc')
    .orderBy('task_id', 'desc')
    .limit(pageSize)
    .offset((page - 1) * pageSize)
    .execute();
  return { rows, total: Number(total?.n ?? 0) };
}
