/** Changing tasks after submission: stop, retry, delete; reading their logs and outputs. */
import { randomUUID } from 'node:crypto';
import {
  ApiError,
  type LogResponse,
  type OutputsResponse,
  type RetryRequest,
  type RetryResponse,
  type StopResponse,
  type TaskStatus,
  type TerminatedProcess,
} from '@speos-portal/protocol';
import { type Clock, toSeconds } from '../clock.js';
import type { Db } from '../db/connect.js';
import type { TaskRow, UploadRow } from '../db/schema.js';
import { fingerprint, type IdempotencyKeys } from '../http/idempotency.js';
import { type Logger, silentLogger } from '../logger.js';
import { assertFilesKept, assertLogKept } from '../retention/guards.js';
import type { ObjectStore } from '../storage/object-store.js';
import { readLog } from './logs.js';
import { crc32Stream, zipName } from './output-files.js';
import { OutputsZip } from './outputs-zip.js';
import { presentProgress } from './present.js';
import { findTask, insertTask, type Owner, transitionTask } from './repository.js';

const FINISHED: TaskStatus[] = ['SUCCESS', 'FAILURE', 'CANCELLED', 'ABORTED', 'EXPIRED'];

export interface ControlDeps {
  db: Db;
  store: ObjectStore;
  clock: Clock;
  /** Remembers retries sent with an Idempotency-Key. */
  idempotency: IdempotencyKeys;
  /** How long stop waits for the worker to kill a running solver before forcing the state. */
  stopWaitMs?: number;
  /** Where clean-up failures are told; default: nowhere. */
  log?: Logger;
}

/** `/tasks/{id}/outputs/a b/报告.html` — each path segment encoded. */
export function outputUrl(taskId: string, relative: string): string {
  return `/tasks/${taskId}/outputs/${relative.split('/').map(encodeURIComponent).join('/')}`;
}

export class TaskControl {
  readonly #db: Db;
  readonly #store: ObjectStore;
  readonly #clock: Clock;
  readonly #stopWaitMs: number;
  readonly #keys: IdempotencyKeys;
  readonly #log: Logger;

  constructor(deps: ControlDeps) {
    this.#log = deps.log ?? silentLogger;
    this.#db = deps.db;
    this.#keys = deps.idempotency;
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#stopWaitMs = deps.stopWaitMs ?? 20_000;
  }

  async #task(owner: Owner, taskId: string): Promise<TaskRow> {
    const task = await findTask(this.#db, taskId, owner);
    if (!task) throw new ApiError('TASK_NOT_FOUND', `Task ${taskId} does not exist.`);
    return task;
  }

  /** PENDING → CANCELLED at once; RUNNING → the worker SIGTERMs (then SIGKILLs) the solver. */
  async stop(owner: Owner, taskId: string): Promise<StopResponse> {
    const task = await this.#task(owner, taskId);
    const previous = {
      status: task.status as TaskStatus,
      started_at: task.started_at === null ? null : toSeconds(Number(task.started_at)),
      progress_info: presentProgress(task.progress_info),
    };
    const answer = (message: string, processes: TerminatedProcess[]): StopResponse => ({
      task_id: taskId,
      status: 'CANCELLED',
      message,
      terminated_processes: processes,
      lock_released: true,
      previous_status: previous,
    });
    if (task.status === 'PENDING') {
      const moved = await transitionTask(
        this.#db,
        taskId,
        ['PENDING'],
        'CANCELLED',
        this.#clock(),
        'stopped before it started',
        {
          finished_at: this.#clock(),
          message: 'stopped before it started',
        },
      );
      if (moved) return answer('Task cancelled before it started', []);
      return this.stop(owner, taskId); // a worker claimed it meanwhile: stop the run
    }
    if (task.status !== 'RUNNING') {
      throw new ApiError(
        'TASK_NOT_RUNNING',
        `Task ${taskId} is ${task.status}; only PENDING or RUNNING tasks can be stopped.`,
      );
    }
    await this.#db.updateTable('tasks').set({ cancel_requested: 1 }).where('task_id', '=', taskId).execute();
    const deadline = Date.now() + this.#stopWaitMs;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      const now = await findTask(this.#db, taskId, owner);
      if (!now || now.status === 'RUNNING') continue;
      if (now.status === 'CANCELLED') {
        return answer('Task stopped', storedProcesses(now.terminated_processes));
      }
      throw new ApiError('TASK_NOT_RUNNING', `Task ${taskId} ended as ${now.status} before it could be stopped.`);
    }
    // The worker did not react (gone, or hung): release the task anyway. If the worker
    // comes back, its next heartbeat finds the lease gone and it kills the solver.
    await transitionTask(
      this.#db,
      taskId,
      ['RUNNING'],
      'CANCELLED',
      this.#clock(),
      'stopped; the worker did not confirm',
      {
        finished_at: this.#clock(),
        lease_owner: null,
        lease_expires_at: null,
        message: 'stopped; the worker did not confirm',
      },
    );
    return answer('Task stopped (the worker did not confirm in time)', []);
  }

  /**
   * A new PENDING task on the same inputs and parameters. With an Idempotency-Key, a
   * repeat of the same request answers with the task the first one made.
   */
  /**
   * @param owner whose tasks the caller may retry (null: any, for admins and with auth off)
   * @param requester who is asking: the scope of the idempotency key (an admin's own keys)
   */
  async retry(
    owner: Owner,
    taskId: string,
    request: RetryRequest,
    idempotencyKey?: string,
    requester: Owner = owner,
  ): Promise<RetryResponse & { replayed: boolean }> {
    const what = {
      what: `retry of task ${taskId}`,
      // Only the fields retry reads: a body may carry others (they are allowed and ignored), and
      // those must neither change the fingerprint nor reach stableJson's recursion (a body
      // nested thousands deep overflowed the stack: a 500 the fuzz test found).
      fingerprint: fingerprint({
        operation: 'retry',
        task_id: taskId,
        display_name: request.display_name,
        submitter: request.submitter,
      }),
    };
    const { answer, replayed } = await this.#keys.once(requester, idempotencyKey, what, async (trx) => {
      const task = await findTask(trx, taskId, owner);
      if (!task) throw new ApiError('TASK_NOT_FOUND', `Task ${taskId} does not exist.`);
      if (task.status === 'PENDING' || task.status === 'RUNNING') {
        throw new ApiError('INVALID_STATE', `Task ${taskId} is ${task.status}; stop it before retrying.`);
      }
      assertFilesKept(task);
      if (task.confirm_digest === null || task.master_upload_id === null) {
        throw new ApiError(
          'INVALID_STATE',
          `Task ${taskId} was never submitted (${task.status}); there is nothing to run again.`,
        );
      }
      const master = await trx
        .selectFrom('uploads')
        .select('status')
        .where('upload_id', '=', task.master_upload_id)
        .executeTakeFirst();
      if (master?.status !== 'COMPLETED') {
        throw new ApiError('INVALID_STATE', `The master file of task ${taskId} is no longer stored; upload it again.`);
      }
      const now = this.#clock();
      const newId = randomUUID();
      await insertTask(trx, {
        ...task,
        task_id: newId,
        status: 'PENDING',
        display_name: request.display_name?.trim() || task.display_name,
        submitter: request.submitter?.trim() || task.submitter,
        parent_task_id: task.task_id,
        retry_count: Number(task.retry_count) + 1,
        progress_info: null,
        message: null,
        error_detail: null,
        internal_detail: null,
        created_at: now,
        updated_at: now,
        started_at: null,
        finished_at: null,
        lease_owner: null,
        lease_expires_at: null,
        attempts: 0,
        cancel_requested: 0,
        terminated_processes: null,
        log_size: 0,
        // The new run's own retention state: not pinned, nothing expired yet.
        pinned: 0,
        files_expired_at: null,
        files_purged_at: null,
        logs_expired_at: null,
      });
      const response: RetryResponse = {
        new_task_id: newId,
        original_task_id: taskId,
        status: 'PENDING',
        message: 'Task queued again',
      };
      return response;
    });
    return { ...answer, replayed };
  }

  /** Deletes the task, its logs and outputs, and inputs no other task uses. */
  async delete(owner: Owner, taskId: string): Promise<void> {
    const task = await this.#task(owner, taskId);
    if (task.status === 'RUNNING') {
      throw new ApiError('INVALID_STATE', `Task ${taskId} is running; stop it first, then delete it.`);
    }
    const outputs = await this.#db
      .selectFrom('task_outputs')
      .select('object_key')
      .where('task_id', '=', taskId)
      .execute();
    const uploads = await this.#db
      .selectFrom('uploads')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb('task_id', '=', taskId),
          eb('upload_id', 'in', [task.master_upload_id ?? '', task.include_upload_id ?? '']),
        ]),
      )
      .execute();
    const removable: UploadRow[] = [];
    for (const upload of uploads) {
      const users = await this.#db
        .selectFrom('tasks')
        .select('task_id')
        .where('task_id', '!=', taskId)
        .where((eb) =>
          eb.or([eb('master_upload_id', '=', upload.upload_id), eb('include_upload_id', '=', upload.upload_id)]),
        )
        .executeTakeFirst();
      if (!users) removable.push(upload);
    }
    const deleted = await this.#db.transaction().execute(async (trx) => {
      const result = await trx
        .deleteFrom('tasks')
        .where('task_id', '=', taskId)
        .where('status', '!=', 'RUNNING')
        .executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return false;
      await trx.deleteFrom('task_status_history').where('task_id', '=', taskId).execute();
      await trx.deleteFrom('task_logs').where('task_id', '=', taskId).execute();
      await trx.deleteFrom('task_outputs').where('task_id', '=', taskId).execute();
      if (removable.length > 0) {
        await trx
          .deleteFrom('uploads')
          .where(
            'upload_id',
            'in',
            removable.map((u) => u.upload_id),
          )
          .execute();
      }
      return true;
    });
    if (!deleted) throw new ApiError('INVALID_STATE', `Task ${taskId} started running; stop it first, then delete it.`);
    // Storage last: a crash here leaves unreferenced bytes, never a task without its files.
    // A failure does too: the task is gone either way, so it is logged, not answered.
    const leftBehind = (objectKey: string) => (error: unknown) =>
      this.#log.warn(
        { err: error, task_id: taskId, object_key: objectKey },
        'deleted task: its stored file could not be removed and stays unreferenced',
      );
    for (const { object_key } of outputs) await this.#store.deleteObject(object_key).catch(leftBehind(object_key));
    for (const upload of removable) {
      if (upload.status === 'UPLOADING')
        await this.#store
          .abortMultipartUpload(upload.object_key, upload.upload_id)
          .catch(leftBehind(upload.object_key));
      else if (upload.status === 'COMPLETED')
        await this.#store.deleteObject(upload.object_key).catch(leftBehind(upload.object_key));
    }
  }

  async outputs(owner: Owner, taskId: string): Promise<OutputsResponse> {
    const { task, rows } = await this.outputRows(owner, taskId);
    return {
      task_id: taskId,
      files: rows.map((r) => ({ name: r.path, size: Number(r.size), url: outputUrl(taskId, r.path) })),
      // After retention the list stays (what the run produced) but there is nothing to download.
      download_url: rows.length > 0 && task.files_expired_at === null ? `/tasks/${taskId}/outputs.zip` : null,
      download_name: rows.length > 0 && task.files_expired_at === null ? zipName(task) : null,
    };
  }

  async outputFile(owner: Owner, taskId: string, relative: string) {
    assertFilesKept(await this.#task(owner, taskId));
    const row = await this.#db
      .selectFrom('task_outputs')
      .selectAll()
      .where('task_id', '=', taskId)
      .where('path', '=', relative)
      .executeTakeFirst();
    if (!row) throw new ApiError('NOT_FOUND', `Task ${taskId} has no output file "${relative}".`);
    return row;
  }

  /**
   * The layout of the task's outputs.zip. Rows stored before CRCs were kept (migration
   * 0003) get theirs here, once: that first download reads each such file before sending.
   */
  async outputsZip(owner: Owner, taskId: string): Promise<{ task: TaskRow; zip: OutputsZip }> {
    const { task, rows } = await this.outputRows(owner, taskId);
    assertFilesKept(task);
    for (const row of rows) {
      if (row.crc32 !== null) continue;
      const checksum = crc32Stream();
      for await (const _ of (await this.#store.getObject(row.object_key)).pipe(checksum)) {
        // read to the end; the checksum is all that is kept
      }
      row.crc32 = checksum.crc32;
      await this.#db
        .updateTable('task_outputs')
        .set({ crc32: checksum.crc32 })
        .where('task_id', '=', taskId)
        .where('path', '=', row.path)
        .execute();
    }
    const sources = rows.map((r) => ({
      name: r.path,
      size: Number(r.size),
      crc32: Number(r.crc32),
      key: r.object_key,
    }));
    const finished = Number(task.finished_at ?? task.updated_at);
    return { task, zip: new OutputsZip(sources, new Date(finished)) };
  }

  async outputRows(owner: Owner, taskId: string) {
    const task = await this.#task(owner, taskId);
    const rows = await this.#db
      .selectFrom('task_outputs')
      .selectAll()
      .where('task_id', '=', taskId)
      .orderBy('path')
      .execute();
    return { task, rows };
  }

  async logs(owner: Owner, taskId: string, offset: number, limit: number): Promise<LogResponse> {
    const task = await this.#task(owner, taskId);
    assertLogKept(task);
    const { text, next, size } = await readLog(this.#db, taskId, offset, limit);
    return {
      task_id: taskId,
      offset,
      next_offset: next,
      size,
      content: text,
      finished: FINISHED.includes(task.status as TaskStatus) && next >= size,
    };
  }
}

/**
 * The processes a stop ended, as the worker stored them. Rows written before names and
 * methods were recorded hold bare PIDs.
 */
export function storedProcesses(json: string | null): TerminatedProcess[] {
  const stored = JSON.parse(json ?? '[]') as (number | TerminatedProcess)[];
  return stored.map((p) => (typeof p === 'number' ? { pid: p, name: 'solver', method: 'terminated' } : p));
}
