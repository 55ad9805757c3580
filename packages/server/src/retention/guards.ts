/** The 410 FILES_EXPIRED answers for downloads of what retention deleted (retention/sweep.ts). */
import { ApiError } from '@speos-portal/protocol';
import type { TaskRow } from '../db/schema.js';

const when = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** Throws 410 when the task's input and result files were deleted by retention. */
export function assertFilesKept(task: Pick<TaskRow, 'task_id' | 'files_expired_at'>): void {
  if (task.files_expired_at === null) return;
  throw new ApiError(
    'FILES_EXPIRED',
    `The files of task ${task.task_id} were deleted on ${when(Number(task.files_expired_at))} because the task finished longer ago than this portal keeps files (FILES_RETENTION_DAYS). The task and its history remain; to run it again, upload the model again. Pin a task to keep its files.`,
  );
}

/** Throws 410 when the task's solver log was deleted by retention. */
export function assertLogKept(task: Pick<TaskRow, 'task_id' | 'logs_expired_at'>): void {
  if (task.logs_expired_at === null) return;
  throw new ApiError(
    'FILES_EXPIRED',
    `The solver log of task ${task.task_id} was deleted on ${when(Number(task.logs_expired_at))} because the task finished longer ago than this portal keeps logs (LOG_RETENTION_DAYS). Pin a task to keep its log.`,
  );
}
