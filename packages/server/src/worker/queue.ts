/**
 * The job queue is the tasks table: PENDING rows, claimed oldest first with a lease.
 * Claiming is one conditional UPDATE, so two workers can never both win a task:
 * PostgreSQL skips rows another transaction holds (FOR UPDATE SKIP LOCKED); SQLite has a
 * single writer.
 */

import type { TerminatedProcess } from '@speos-portal/protocol';
import { type Db, isPostgres } from '../db/connect.js';
import type { TaskRow } from '../db/schema.js';
import { appendHistory, transitionTask } from '../tasks/repository.js';
import { licensesFree, takeLicenses } from './licenses.js';

/**
 * Claims the oldest PENDING task of one of `versions` ('*' = any), taking one licence of
 * each of `licenses` (licenses.ts); undefined if there is none, or no licence is free.
 */
export async function claimNextTask(
  db: Db,
  workerId: string,
  versions: string[],
  leaseMs: number,
  now: number,
  licenses: string[] = [],
): Promise<TaskRow | undefined> {
  return db.transaction().execute(async (trx) => {
    // Every task needs the same licences: none free, nothing to claim (the oldest stays first).
    if (!(await licensesFree(trx, licenses, now))) return undefined;
    let pick = trx.selectFrom('tasks').select('task_id').where('status', '=', 'PENDING');
    if (!versions.includes('*')) pick = pick.where('version', 'in', versions);
    pick = pick.orderBy('created_at').orderBy('task_id').limit(1);
    if (isPostgres(db)) pick = pick.forUpdate().skipLocked();
    const candidate = await pick.executeTakeFirst();
    if (!candidate) return undefined;
    const claimed = await trx
      .updateTable('tasks')
      .set((eb) => ({
        status: 'RUNNING',
        lease_owner: workerId,
        lease_expires_at: now + leaseMs,
        attempts: eb('attempts', '+', 1),
        started_at: now,
        finished_at: null,
        updated_at: now,
        message: null,
        error_detail: null,
        internal_detail: null,
        progress_info: null,
        slurm_job_id: null,
        slurm_state: null,
        slurm_reason: null,
      }))
      .where('task_id', '=', candidate.task_id)
      .where('status', '=', 'PENDING')
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) === 0) return undefined;
    await takeLicenses(trx, candidate.task_id, licenses);
    await appendHistory(trx, candidate.task_id, 'RUNNING', `claimed by ${workerId}`, now);
    return trx.selectFrom('tasks').selectAll().where('task_id', '=', candidate.task_id).executeTakeFirst();
  });
}

export interface Heartbeat {
  /** The lease is no longer ours (expired and re-queued, or the task was stopped). */
  lost: boolean;
  /** Someone asked to stop the task. */
  cancelRequested: boolean;
  /** The task is no longer RUNNING at all (stopped or failed without this worker). */
  ended: boolean;
}

/** Extends our lease; tells whether we still hold the task and whether stop was asked. */
export async function heartbeat(
  db: Db,
  taskId: string,
  workerId: string,
  leaseMs: number,
  now: number,
): Promise<Heartbeat> {
  const result = await db
    .updateTable('tasks')
    .set({ lease_expires_at: now + leaseMs })
    .where('task_id', '=', taskId)
    .where('lease_owner', '=', workerId)
    .where('status', '=', 'RUNNING')
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) {
    const now = await db.selectFrom('tasks').select('status').where('task_id', '=', taskId).executeTakeFirst();
    return { lost: true, cancelRequested: true, ended: now?.status !== 'RUNNING' };
  }
  const row = await db.selectFrom('tasks').select('cancel_requested').where('task_id', '=', taskId).executeTakeFirst();
  return { lost: false, cancelRequested: Number(row?.cancel_requested ?? 0) === 1, ended: false };
}

/** Ends our run of a task; false if the lease was no longer ours (nothing is written). */
export async function finishTask(
  db: Db,
  taskId: string,
  workerId: string,
  status: 'SUCCESS' | 'FAILURE' | 'CANCELLED',
  now: number,
  fields: {
    message?: string | null;
    error_detail?: string | null;
    internal_detail?: string | null;
    terminated_processes?: TerminatedProcess[];
  },
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const result = await trx
      .updateTable('tasks')
      .set({
        status,
        finished_at: now,
        updated_at: now,
        lease_owner: null,
        lease_expires_at: null,
        slurm_state: null,
        slurm_reason: null,
        message: fields.message ?? null,
        error_detail: fields.error_detail ?? null,
        internal_detail: fields.internal_detail ?? null,
        ...(fields.terminated_processes ? { terminated_processes: JSON.stringify(fields.terminated_processes) } : {}),
      })
      .where('task_id', '=', taskId)
      .where('lease_owner', '=', workerId)
      .where('status', '=', 'RUNNING')
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return false;
    await appendHistory(trx, taskId, status, fields.message ?? null, now);
    return true;
  });
}

/**
 * Tasks whose worker stopped heart-beating: back to PENDING while attempts remain,
 * else FAILURE with the reason. Returns how many were handled. `alive` lists tasks the
 * caller itself is running (their lease may have lapsed while the database was down, but
 * their worker is evidently not dead); they are left alone.
 *
 * A lapsed lease only means "the worker died" if the database was reachable long enough for
 * the worker to renew it: the caller (worker.ts) runs this only after it has reached the
 * database without a failure for a whole lease.
 */
export async function requeueLostTasks(
  db: Db,
  maxAttempts: number,
  now: number,
  alive: readonly string[] = [],
): Promise<number> {
  let query = db
    .selectFrom('tasks')
    .select(['task_id', 'attempts', 'lease_owner', 'cancel_requested'])
    .where('status', '=', 'RUNNING')
    .where('lease_expires_at', '<', now)
    // A Slurm job goes on without its worker: a Slurm worker follows it again (adoptSlurmTasks).
    .where('slurm_job_id', 'is', null);
  if (alive.length > 0) query = query.where('task_id', 'not in', [...alive]);
  const lost = await query.execute();
  let handled = 0;
  for (const task of lost) {
    const owner = task.lease_owner ?? 'unknown';
    const common = { lease_owner: null, lease_expires_at: null };
    let moved: boolean;
    if (Number(task.cancel_requested) === 1) {
      moved = await transitionTask(
        db,
        task.task_id,
        ['RUNNING'],
        'CANCELLED',
        now,
        `stopped; worker ${owner} was lost`,
        {
          ...common,
          finished_at: now,
          message: 'stopped',
        },
      );
    } else if (Number(task.attempts) < maxAttempts) {
      moved = await transitionTask(db, task.task_id, ['RUNNING'], 'PENDING', now, `worker ${owner} lost; re-queued`, {
        ...common,
        started_at: null,
        progress_info: null,
      });
    } else {
      moved = await transitionTask(
        db,
        task.task_id,
        ['RUNNING'],
        'FAILURE',
        now,
        `worker lost ${task.attempts} times`,
        {
          ...common,
          finished_at: now,
          message: `The worker running this task was lost ${task.attempts} times (last: ${owner}); not retrying automatically.`,
        },
      );
    }
    if (moved) handled++;
  }
  return handled;
}

/** Sets (or with null clears) the message of a task this worker runs, e.g. what it waits for. */
export async function setRunMessage(
  db: Db,
  taskId: string,
  workerId: string,
  message: string | null,
  now: number,
): Promise<void> {
  await db
    .updateTable('tasks')
    .set({ message, updated_at: now })
    .where('task_id', '=', taskId)
    .where('lease_owner', '=', workerId)
    .where('status', '=', 'RUNNING')
    .execute();
}

/** Stores a progress snapshot (JSON) of a running task. */
export async function saveProgress(
  db: Db,
  taskId: string,
  workerId: string,
  progress: unknown,
  now: number,
): Promise<void> {
  await db
    .updateTable('tasks')
    .set({ progress_info: JSON.stringify(progress), updated_at: now })
    .where('task_id', '=', taskId)
    .where('lease_owner', '=', workerId)
    .execute();
}

/** Records a Slurm job's id and where it is in Slurm's queue, for the task's API view. */
export async function saveQueueState(
  db: Db,
  taskId: string,
  workerId: string,
  state: { jobId: string; state: 'PENDING' | 'RUNNING'; reason: string | null; startedAt?: number },
  now: number,
): Promise<void> {
  await db
    .updateTable('tasks')
    .set({
      slurm_job_id: state.jobId,
      slurm_state: state.state,
      slurm_reason: state.reason,
      updated_at: now,
      // The run's time counts from when the solver started, not from when it was queued.
      ...(state.startedAt ? { started_at: state.startedAt } : {}),
    })
    .where('task_id', '=', taskId)
    .where('lease_owner', '=', workerId)
    .where('status', '=', 'RUNNING')
    .execute();
}

/**
 * RUNNING tasks with a Slurm job that nobody follows: this worker's own from before a
 * restart (same WORKER_ID), and, when `lapsed` is true, those whose worker's lease ran out.
 * Each is taken over with a conditional update, so two workers never both follow a job.
 */
export async function adoptSlurmTasks(
  db: Db,
  workerId: string,
  leaseMs: number,
  now: number,
  options: { lapsed: boolean; active: readonly string[] },
): Promise<TaskRow[]> {
  let query = db
    .selectFrom('tasks')
    .select(['task_id', 'lease_owner'])
    .where('status', '=', 'RUNNING')
    .where('slurm_job_id', 'is not', null);
  query = options.lapsed
    ? query.where((eb) => eb.or([eb('lease_owner', '=', workerId), eb('lease_expires_at', '<', now)]))
    : query.where('lease_owner', '=', workerId);
  if (options.active.length > 0) query = query.where('task_id', 'not in', [...options.active]);
  const adopted: TaskRow[] = [];
  for (const candidate of await query.execute()) {
    let update = db
      .updateTable('tasks')
      .set({ lease_owner: workerId, lease_expires_at: now + leaseMs, updated_at: now })
      .where('task_id', '=', candidate.task_id)
      .where('status', '=', 'RUNNING');
    update =
      candidate.lease_owner === null
        ? update.where('lease_owner', 'is', null)
        : update.where('lease_owner', '=', candidate.lease_owner);
    if (candidate.lease_owner !== workerId) update = update.where('lease_expires_at', '<', now);
    const taken = await update.executeTakeFirst();
    if (Number(taken.numUpdatedRows) === 0) continue;
    const row = await db.selectFrom('tasks').selectAll().where('task_id', '=', candidate.task_id).executeTakeFirst();
    if (row) adopted.push(row);
  }
  return adopted;
}

/** Lets go of a task whose Slurm job goes on, so that the next worker follows it at once. */
export async function releaseLease(db: Db, taskId: string, workerId: string): Promise<void> {
  await db
    .updateTable('tasks')
    .set({ lease_expires_at: 0 })
    .where('task_id', '=', taskId)
    .where('lease_owner', '=', workerId)
    .where('status', '=', 'RUNNING')
    .execute();
}

/**
 * Slurm jobs of tasks that ended without their worker (stopped while no worker followed the
 * job: the stop answers after a while anyway, tasks/control.ts): still in Slurm, to cancel.
 */
export async function abandonedSlurmJobs(db: Db): Promise<{ task_id: string; slurm_job_id: string }[]> {
  const rows = await db
    .selectFrom('tasks')
    .select(['task_id', 'slurm_job_id'])
    .where('status', '!=', 'RUNNING')
    .where('slurm_state', 'is not', null)
    .where('slurm_job_id', 'is not', null)
    .execute();
  return rows.map((r) => ({ task_id: r.task_id, slurm_job_id: r.slurm_job_id! }));
}

/** The task's Slurm job is cancelled (or over): nothing more to do for it. */
export async function forgetSlurmJob(db: Db, taskId: string): Promise<void> {
  await db
    .updateTable('tasks')
    .set({ slurm_state: null, slurm_reason: null })
    .where('task_id', '=', taskId)
    .where('status', '!=', 'RUNNING')
    .execute();
}
