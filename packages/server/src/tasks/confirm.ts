/**
 * `POST /tasks/upload/confirm` (docs/api.md, step 4): submits a task whose files are
 * uploaded. The task moves UPLOADING → PENDING with its job settings (job-settings.ts); an
 * include uploaded as its own task is taken in and its placeholder task removed. The same
 * body again gives the same answer and never queues a second job.
 */
import { createHash } from 'node:crypto';
import { ApiError, type ConfirmRequest, type ConfirmResponse } from '@speos-portal/protocol';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connect.js';
import type { UploadRow } from '../db/schema.js';
import { holdInputs } from '../uploads/unconfirmed.js';
import { jobSettings } from './job-settings.js';
import {
  findIncludeByObjectKey,
  findTask,
  findUpload,
  type Owner,
  removePlaceholderTask,
  transitionTask,
} from './repository.js';

export interface ConfirmServiceDeps {
  db: Db;
  config: Config;
  clock: Clock;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export class ConfirmService {
  readonly #db: Db;
  readonly #config: Config;
  readonly #clock: Clock;

  constructor(deps: ConfirmServiceDeps) {
    this.#db = deps.db;
    this.#config = deps.config;
    this.#clock = deps.clock;
  }

  /** Submits the task: PENDING, with its parameters. Same body again → same answer. */
  async confirm(owner: Owner, request: ConfirmRequest): Promise<ConfirmResponse> {
    const task = await findTask(this.#db, request.task_id, owner);
    if (!task) throw new ApiError('TASK_NOT_FOUND', `Task ${request.task_id} does not exist.`);
    const fields = jobSettings(owner, request, this.#config);
    const digest = sha256(
      JSON.stringify({ ...fields, master: request.master_object_key, include: request.include_object_key ?? null }),
    );
    const answer: ConfirmResponse = { task_id: task.task_id, status: 'PENDING', message: 'Task submitted' };

    if (task.status !== 'UPLOADING') {
      if (task.confirm_digest === digest) return answer;
      if (task.confirm_digest !== null) {
        throw new ApiError(
          'ALREADY_CONFIRMED',
          `Task ${task.task_id} was already submitted with other parameters (it is ${task.status}). Retry it to run it again with new ones.`,
        );
      }
      throw new ApiError('INVALID_STATE', `Task ${task.task_id} is ${task.status} and cannot be submitted.`);
    }
    const master = task.master_upload_id ? await findUpload(this.#db, task.master_upload_id, owner) : undefined;
    if (!master || master.object_key !== request.master_object_key || master.status === 'ABORTED') {
      throw new ApiError(
        'NO_SUCH_UPLOAD',
        `Task ${task.task_id} has no master upload with object_key "${request.master_object_key}". Use the object_key that init returned for the master file.`,
      );
    }
    if (master.status !== 'COMPLETED') {
      throw new ApiError(
        'UPLOAD_NOT_COMPLETED',
        `The master upload is ${master.status}; call complete after all parts are uploaded, then confirm.`,
      );
    }
    const include = request.include_object_key
      ? await this.#includeUpload(owner, request.include_object_key)
      : await this.#attachedInclude(owner, task.include_upload_id);
    const now = this.#clock();
    const confirmed = await this.#db.transaction().execute(async (trx) => {
      const inputs = [master.upload_id, ...(include ? [include.upload_id] : [])];
      if (!(await holdInputs(trx, inputs, now))) {
        throw new ApiError(
          'NO_SUCH_UPLOAD',
          `An input of task ${task.task_id} expired (not submitted within ${this.#config.uploadTtlHours} h of its upload) and was deleted. Upload it again.`,
        );
      }
      const moved = await transitionTask(trx, task.task_id, ['UPLOADING'], 'PENDING', now, 'submitted', {
        ...fields,
        include_upload_id: include?.upload_id ?? null,
        confirm_digest: digest,
      });
      if (!moved) return false;
      if (include && include.task_id !== task.task_id) {
        // The include was uploaded as its own task: that placeholder is absorbed into this one.
        await removePlaceholderTask(trx, include.task_id);
      }
      return true;
    });
    if (confirmed) return answer;
    // Lost a race with a concurrent confirm: decide as if it had come second.
    const current = await findTask(this.#db, task.task_id, owner);
    if (current?.confirm_digest === digest) return answer;
    throw new ApiError('ALREADY_CONFIRMED', `Task ${task.task_id} was already submitted with other parameters.`);
  }

  /**
   * An include attached with init's task_id, used when confirm names none: only if it was
   * completed (an aborted or unfinished one is left out rather than failing the run later).
   */
  async #attachedInclude(owner: Owner, uploadId: string | null): Promise<UploadRow | undefined> {
    if (!uploadId) return undefined;
    const upload = await findUpload(this.#db, uploadId, owner);
    if (upload?.status === 'UPLOADING') {
      throw new ApiError(
        'UPLOAD_NOT_COMPLETED',
        'The include archive attached to this task is still uploading; complete it (or abort it), then confirm.',
      );
    }
    return upload?.status === 'COMPLETED' ? upload : undefined;
  }

  async #includeUpload(owner: Owner, objectKey: string): Promise<UploadRow> {
    const include = await findIncludeByObjectKey(this.#db, objectKey, owner);
    if (!include) {
      throw new ApiError(
        'NO_SUCH_UPLOAD',
        `No include upload of yours has object_key "${objectKey}". Upload the archive with file_type "include" first.`,
      );
    }
    if (include.status !== 'COMPLETED') {
      throw new ApiError('UPLOAD_NOT_COMPLETED', 'The include archive is still uploading; complete it, then confirm.');
    }
    return include;
  }
}
