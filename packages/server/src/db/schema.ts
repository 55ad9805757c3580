/** Table types for Kysely. Times are epoch milliseconds (ordering within a second matters). */
import type { Generated, Insertable, Selectable, Updateable } from 'kysely';

export interface TasksTable {
  task_id: string;
  owner: string | null;
  status: string;
  job_name: string | null;
  display_name: string | null;
  submitter: string | null;
  solver_type: string;
  profile_name: string | null;
  version: string | null;
  thread_count: number | null;
  priority: number | null;
  /** JSON object of the optional solver options. */
  params: string;
  master_upload_id: string | null;
  include_upload_id: string | null;
  /** sha256 of the confirm request, so a repeated confirm can be told from a different one. */
  confirm_digest: string | null;
  progress_info: string | null;
  message: string | null;
  /** The solver's output tail for a failed run, as users see it. */
  error_detail: string | null;
  /** For operators (and a later admin view), never presented to users: paths, command line, worker errors. */
  internal_detail: string | null;
  parent_task_id: string | null;
  retry_count: number;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** The worker holding the task while it runs, and until when (epoch ms). */
  lease_owner: string | null;
  lease_expires_at: number | null;
  /** How many times a worker has claimed it (bounded re-queues after lost workers). */
  attempts: Generated<number>;
  /** 1 once stop was asked for a running task; its worker kills the solver. */
  cancel_requested: Generated<number>;
  /** JSON array of the PIDs a stop terminated. */
  terminated_processes: string | null;
  /** Bytes of solver output in task_logs. */
  log_size: Generated<number>;
  /** 1: the retention sweep keeps its files and log (migration 0007). */
  pinned: Generated<number>;
  /** When retention decided to delete its files; downloads answer 410 FILES_EXPIRED from then on. */
  files_expired_at: Generated<number | null>;
  /** When the sweep finished deleting them. */
  files_purged_at: Generated<number | null>;
  /** When retention deleted its solver log. */
  logs_expired_at: Generated<number | null>;
  /** The Slurm job running the task (EXECUTOR=slurm), once submitted. */
  slurm_job_id: string | null;
  /** PENDING or RUNNING in Slurm's queue, while the task's job is there. */
  slurm_state: string | null;
  /** Slurm's pending reason (Priority, Resources, Licenses, …) while the job waits. */
  slurm_reason: string | null;
}

export interface NotificationEventsTable {
  task_id: string;
  seq: number;
  event: string;
  owner: string | null;
  payload: string;
  created_at: number;
  fanned_out: Generated<number>;
}

export interface NotificationDeliveriesTable {
  task_id: string;
  seq: number;
  target: string;
  status: string;
  attempts: Generated<number>;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

export interface NotificationPreferencesTable {
  owner: string;
  email_enabled: number;
  language: string;
  updated_at: number;
}

export interface UploadsTable {
  upload_id: string;
  task_id: string;
  owner: string | null;
  file_type: string;
  object_key: string;
  filename: string;
  content_type: string;
  file_size: number;
  chunk_size: number;
  total_chunks: number;
  /** UPLOADING | COMPLETED | ABORTED | EXPIRED */
  status: string;
  /** The object's ETag after complete (`<md5>-<N>`). */
  etag: string | null;
  /** sha256 over the completed part list, so a repeated complete can be recognised. */
  parts_digest: string | null;
  /** JSON [[part_number, etag, size], …] as completed, so list can answer after complete. */
  completed_parts: string | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
}

export interface TaskStatusHistoryTable {
  task_id: string;
  /** 1, 2, 3… per task: the order of the changes. */
  seq: number;
  status: string;
  message: string | null;
  at: number;
}

export interface TaskLogsTable {
  task_id: string;
  seq: number;
  /** Byte offset of this chunk in the whole log. */
  start: number;
  data: string;
}

export interface TaskOutputsTable {
  task_id: string;
  /** Relative path in the run's working directory, with forward slashes. */
  path: string;
  size: number;
  object_key: string;
  /** CRC-32 of the file (unsigned); null for rows stored before migration 0003 until outputs.zip fills it in. */
  crc32: number | null;
}

export interface IdempotencyKeysTable {
  /** The owner of the key; '' when auth is off. */
  scope: string;
  key: string;
  /** sha256 of the request the key was first used with. */
  fingerprint: string;
  /** JSON of the answer given to it. */
  response: string;
  created_at: number;
}

/** A person who signed in with the OpenID provider (migration-0004-auth.ts). */
export interface UsersTable {
  user_id: string;
  issuer: string;
  subject: string;
  name: string | null;
  email: string | null;
  /** JSON array of strings. */
  groups: string;
  created_at: number;
  last_login_at: number;
}

export interface SessionsTable {
  session_hash: string;
  user_id: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  id_token: string | null;
}

export interface ApiTokensTable {
  token_id: string;
  user_id: string;
  name: string;
  token_hash: string;
  hint: string;
  created_at: number;
  last_used_at: number | null;
  expires_at: number | null;
}

export interface DeviceLoginsTable {
  device_hash: string;
  user_code: string;
  client_name: string;
  status: string;
  user_id: string | null;
  created_at: number;
  expires_at: number;
  last_poll_at: number | null;
}

/** A licence pool (LICENSES=name:count), as the last worker to start configured it. */
export interface LicensePoolsTable {
  name: string;
  total: number;
}

/** A licence a task holds while it runs on the local executor. */
export interface LicenseHoldsTable {
  task_id: string;
  name: string;
}

/** A worker's announcement of itself, renewed by every poll of its loop. */
export interface WorkersTable {
  worker_id: string;
  host: string;
  /** JSON array of the SPEOS versions it runs; `*` for every version. */
  versions: string;
  slots: number;
  started_at: number;
  last_heartbeat: number;
  /** The worker counts as online until then (last heartbeat + its lease). */
  online_until: number;
}

export interface Database {
  workers: WorkersTable;
  idempotency_keys: IdempotencyKeysTable;
  users: UsersTable;
  sessions: SessionsTable;
  api_tokens: ApiTokensTable;
  device_logins: DeviceLoginsTable;
  tasks: TasksTable;
  task_logs: TaskLogsTable;
  task_outputs: TaskOutputsTable;
  uploads: UploadsTable;
  task_status_history: TaskStatusHistoryTable;
  notification_events: NotificationEventsTable;
  notification_deliveries: NotificationDeliveriesTable;
  notification_preferences: NotificationPreferencesTable;
  license_pools: LicensePoolsTable;
  license_holds: LicenseHoldsTable;
}

export type TaskRow = Selectable<TasksTable>;
export type NewTask = Insertable<TasksTable>;
export type TaskUpdate = Updateable<TasksTable>;
export type UploadRow = Selectable<UploadsTable>;
export type NewUpload = Insertable<UploadsTable>;
export type UserRow = Selectable<UsersTable>;
export type ApiTokenRow = Selectable<ApiTokensTable>;
