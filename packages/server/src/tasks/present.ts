/** Turns database rows into the API's Task object (docs/api.md "Tasks"). */
import { type ProgressInfo, type Task, type TaskFile, type TaskStatus, versionToRelease } from '@speos-portal/protocol';
import { toSeconds } from '../clock.js';
import type { TaskRow, UploadRow } from '../db/schema.js';
import { humanDuration, parseSolverDuration } from './estimated-time.js';
import { zipName } from './output-files.js';
import { isWaiting, type QueuePlace } from './queue-position.js';

function taskFile(upload: UploadRow | undefined): TaskFile | null {
  if (!upload) return null;
  return {
    object_key: upload.object_key,
    filename: upload.filename,
    size: Number(upload.file_size),
    upload_id: upload.upload_id,
    upload_status: upload.status,
  };
}

/** H:MM:SS, as the solver's users read durations. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h}:${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * Stored progress as the API shows it: time left both in seconds and in words. Rows
 * written before estimated_seconds existed hold only what the solver printed.
 */
export function presentProgress(stored: string | null): ProgressInfo | null {
  if (!stored) return null;
  const progress = JSON.parse(stored) as ProgressInfo;
  const seconds = progress.estimated_seconds ?? parseSolverDuration(progress.estimated_time);
  return {
    ...progress,
    estimated_time: seconds === null ? (progress.estimated_time ?? null) : humanDuration(seconds),
    estimated_seconds: seconds,
  };
}

export function presentTask(
  row: TaskRow,
  uploads: Map<string, UploadRow>,
  retried: string[],
  nowMs: number,
  place?: QueuePlace,
): Task {
  // A task whose Slurm job waits in Slurm's queue is claimed, but for its user it still waits.
  const waiting = isWaiting(row);
  const started = row.started_at === null || waiting ? null : Number(row.started_at);
  const finished = row.finished_at === null ? null : Number(row.finished_at);
  const elapsed = started === null ? null : ((finished ?? nowMs) - started) / 1000;
  return {
    task_id: row.task_id,
    status: (waiting ? 'PENDING' : row.status) as TaskStatus,
    job_name: row.job_name,
    display_name: row.display_name ?? row.job_name,
    submitter: row.submitter,
    solver_type: row.solver_type,
    profile_name: row.profile_name,
    version: row.version,
    ansys_release: row.version ? (versionToRelease(row.version) ?? null) : null,
    thread_count: row.thread_count === null ? null : Number(row.thread_count),
    priority: row.priority === null ? null : Number(row.priority),
    params: JSON.parse(row.params) as Record<string, unknown>,
    master: taskFile(row.master_upload_id ? uploads.get(row.master_upload_id) : undefined),
    include: taskFile(row.include_upload_id ? uploads.get(row.include_upload_id) : undefined),
    created_at: toSeconds(Number(row.created_at)),
    updated_at: toSeconds(Number(row.updated_at)),
    started_at: started === null ? null : toSeconds(started),
    finished_at: finished === null ? null : toSeconds(finished),
    elapsed_seconds: elapsed === null ? null : Math.round(elapsed * 10) / 10,
    duration: elapsed === null ? null : formatDuration(elapsed),
    progress_info: presentProgress(row.progress_info),
    message: row.message,
    error_detail: row.error_detail,
    parent_task_id: row.parent_task_id,
    retry_count: Number(row.retry_count),
    retried_task_ids: retried,
    download_url:
      row.status === 'SUCCESS' && row.files_expired_at === null ? `/tasks/${row.task_id}/outputs.zip` : null,
    download_name: row.status === 'SUCCESS' && row.files_expired_at === null ? zipName(row) : null,
    pinned: Number(row.pinned) === 1,
    files_expired_at: row.files_expired_at === null ? null : toSeconds(Number(row.files_expired_at)),
    logs_expired_at: row.logs_expired_at === null ? null : toSeconds(Number(row.logs_expired_at)),
    queue_position: place?.position ?? null,
    queue_reason: place?.reason ?? null,
    slurm_job_id: row.slurm_job_id ?? null,
  };
}
