/** Reading tasks: list (paged, filtered, newest first), one task, its history, its input files. */
import {
  ApiError,
  type FileType,
  parseTaskMessage,
  TASK_STATUSES,
  type Task,
  type TaskDetail,
  type TaskListResponse,
  type TaskStatus,
} from '@speos-portal/protocol';
import { usersById } from '../auth/users.js';
import type { Clock } from '../clock.js';
import { toSeconds } from '../clock.js';
import type { Db } from '../db/connect.js';
import type { TaskRow, UploadRow } from '../db/schema.js';
import { assertFilesKept } from '../retention/guards.js';
import { listWorkers, queueReason, type WorkerState } from '../workers/registry.js';
import { presentTask } from './present.js';
import { findUploadsById, retriedTaskIds } from './presentation-rows.js';
import { queuePlaces } from './queue-position.js';
import { findTask, listTasks, type Owner, statusHistory } from './repository.js';

/**
 * What `GET /tasks` lists without a status filter: submitted tasks. Uploads not yet
 * confirmed (UPLOADING, and ABORTED or EXPIRED ones that never were) have no job name
 * yet; clients that resume them ask for them by status.
 */
export const SUBMITTED_STATUSES: readonly TaskStatus[] = ['PENDING', 'RUNNING', 'SUCCESS', 'FAILURE', 'CANCELLED'];

/** How an answer is shaped for the asker. */
interface View {
  /** Add each task's owner (admins). */
  withOwners?: boolean;
}

export class TaskService {
  readonly #db: Db;
  readonly #clock: Clock;

  constructor(deps: { db: Db; clock: Clock }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
  }

  /** Admins see who owns each task. */
  async #present(rows: TaskRow[], view: View = {}): Promise<Task[]> {
    const uploadIds = rows.flatMap((r) => [r.master_upload_id, r.include_upload_id]).filter((id): id is string => !!id);
    const uploads = await findUploadsById(this.#db, uploadIds);
    const retried = await retriedTaskIds(
      this.#db,
      rows.map((r) => r.task_id),
    );
    const now = this.#clock();
    const places = await queuePlaces(this.#db, rows, now);
    // Workers are read only when a task the portal itself queues needs its reason.
    let online: WorkerState[] = [];
    if (rows.some((r) => r.status === 'PENDING')) {
      online = (await listWorkers(this.#db, now)).filter((w) => w.online);
    }
    const tasks = rows.map((row) => {
      const presented = presentTask(row, uploads, retried.get(row.task_id) ?? [], now, places.get(row.task_id));
      // No worker to take it outranks a full licence pool; a job waiting in Slurm keeps Slurm's reason.
      const reason = row.status === 'PENDING' ? queueReason(online, row.version) : undefined;
      const coded = parseTaskMessage(row.message);
      return {
        ...presented,
        message_code: coded?.code ?? null,
        message_params: coded?.params ?? null,
        queue_reason: reason?.text ?? presented.queue_reason ?? null,
        queue_reason_code: reason?.code ?? null,
      };
    });
    if (!view.withOwners) return tasks;
    const users = await usersById(
      this.#db,
      rows.map((r) => r.owner ?? ''),
    );
    return tasks.map((task, i) => {
      const owner = rows[i]!.owner;
      const user = owner ? users.get(owner) : undefined;
      return {
        ...task,
        owner:
          owner === null ? null : { id: owner, name: user?.name ?? user?.email ?? owner, email: user?.email ?? null },
      };
    });
  }

  async list(
    owner: Owner,
    query: { page?: number; page_size?: number; status?: string; submitter?: string; q?: string; owner?: string },
    view: View = {},
  ): Promise<TaskListResponse> {
    const page = query.page ?? 1;
    const pageSize = query.page_size ?? 20;
    const statuses = query.status
      ?.split(',')
      .map((s) => s.trim().toUpperCase())
      .filter(Boolean);
    const unknown = statuses?.filter((s) => !(TASK_STATUSES as readonly string[]).includes(s)) ?? [];
    if (unknown.length > 0) {
      throw new ApiError(
        'VALIDATION_FAILED',
        `status ${unknown.join(', ')} is not a task status; use ${TASK_STATUSES.join(', ')} (several separated by commas).`,
      );
    }
    const { rows, total } = await listTasks(
      this.#db,
      {
        owner,
        ownedBy: query.owner?.trim() || undefined,
        statuses: statuses?.length ? statuses : [...SUBMITTED_STATUSES],
        submitter: query.submitter?.trim() || undefined,
        query: query.q?.trim() || undefined,
      },
      page,
      pageSize,
    );
    return { items: await this.#present(rows, view), total, page, page_size: pageSize };
  }

  async #row(owner: Owner, taskId: string): Promise<TaskRow> {
    const row = await findTask(this.#db, taskId, owner);
    if (!row) throw new ApiError('TASK_NOT_FOUND', `Task ${taskId} does not exist.`);
    return row;
  }

  async get(owner: Owner, taskId: string, view: View = {}): Promise<Task> {
    const [task] = await this.#present([await this.#row(owner, taskId)], view);
    return task!;
  }

  async detail(owner: Owner, taskId: string, view: View = {}): Promise<TaskDetail> {
    const task = await this.get(owner, taskId, view);
    const history = await statusHistory(this.#db, taskId);
    return {
      ...task,
      status_history: history.map((h) => {
        const coded = parseTaskMessage(h.message);
        return {
          status: h.status as Task['status'],
          at: toSeconds(Number(h.at)),
          message: h.message,
          code: coded?.code ?? null,
          params: coded?.params ?? null,
        };
      }),
    };
  }

  /** The completed upload behind a task's master or include file. */
  async inputFile(owner: Owner, taskId: string, fileType: FileType): Promise<UploadRow> {
    const row = await this.#row(owner, taskId);
    assertFilesKept(row);
    const uploadId = fileType === 'master' ? row.master_upload_id : row.include_upload_id;
    const upload = uploadId ? (await findUploadsById(this.#db, [uploadId])).get(uploadId) : undefined;
    if (!upload) throw new ApiError('NOT_FOUND', `Task ${taskId} has no ${fileType} file.`);
    if (upload.status !== 'COMPLETED') {
      throw new ApiError(
        'UPLOAD_NOT_COMPLETED',
        `The ${fileType} file of task ${taskId} is ${upload.status}, not completed.`,
      );
    }
    return upload;
  }
}
