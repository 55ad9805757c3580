/**
 * The wire format of speos-portal (docs/api.md), as TypeBox schemas. The server validates
 * with them and generates /openapi.json from them; clients import the static types.
 * Field names are snake_case because the wire format demands it.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { TaskOwner } from './auth.js';
import { TASK_STATUSES } from './constants.js';
import { MAX_CHUNK_SIZE, MAX_PARTS, MIN_CHUNK_SIZE } from './planning.js';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const FileType = Type.Union([Type.Literal('master'), Type.Literal('include')], {
  description: '"master" (the SPEOS model) or "include" (an archive of files the master references)',
});
export type FileType = Static<typeof FileType>;

export type TaskStatus = (typeof TASK_STATUSES)[number];
export const TaskStatus = Type.Union(
  TASK_STATUSES.map((s) => Type.Literal(s)),
  { description: 'UPLOADING → PENDING → RUNNING → SUCCESS | FAILURE | CANCELLED; or ABORTED / EXPIRED' },
);

const TaskId = Type.String({ format: 'uuid', description: 'UUID v4 returned by init' });
const UploadId = Type.String({ minLength: 1, maxLength: 200, description: 'opaque id returned by init' });
const ObjectKey = Type.String({ minLength: 1, maxLength: 1024, description: 'object_key returned by init' });
const PartNumber = Type.Integer({ minimum: 1, maximum: MAX_PARTS });

export const ErrorResponse = Type.Object(
  {
    detail: Type.String({ description: 'what went wrong and what to do, for a person' }),
    code: Type.String({ description: 'machine-readable error code (see the error table)' }),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { additionalProperties: true, description: 'Every error: {"detail", "code"}; some add fields such as missing_parts' },
);

// --- 1. init -------------------------------------------------------------------------

export const InitRequest = Type.Object({
  filename: Type.String({
    minLength: 1,
    maxLength: 255,
    description: 'file name; path components are stripped, UTF-8 (e.g. Chinese) is kept',
  }),
  file_size: Type.Integer({ minimum: 1, description: 'bytes; at most the configured maximum (500 MiB default)' }),
  file_type: Type.Optional(FileType),
  content_type: Type.Optional(Type.String({ minLength: 1, maxLength: 255, default: 'application/octet-stream' })),
  chunk_size: Type.Optional(
    Type.Integer({
      minimum: MIN_CHUNK_SIZE,
      maximum: MAX_CHUNK_SIZE,
      description: 'bytes per part (default 5242880); ceil(file_size / chunk_size) ≤ 10000',
    }),
  ),
  task_id: Type.Optional(
    Type.String({
      format: 'uuid',
      description: 'attach this file to an existing task of yours that is still uploading',
    }),
  ),
});
export type InitRequest = Static<typeof InitRequest>;

export const UploadPart = Type.Object({
  part_number: Type.Integer({ minimum: 1 }),
  upload_url: Type.String({ description: 'absolute URL for PUT of exactly this part’s bytes' }),
  start_byte: Type.Integer({ minimum: 0 }),
  end_byte: Type.Integer({ minimum: 1, description: 'exclusive' }),
  size: Type.Integer({ minimum: 1 }),
});
export type UploadPart = Static<typeof UploadPart>;

export const InitResponse = Type.Object({
  task_id: Type.String(),
  upload_id: Type.String(),
  object_key: Type.String(),
  file_type: FileType,
  total_chunks: Type.Integer(),
  chunk_size: Type.Integer(),
  expires_at: Type.Integer({ description: 'epoch seconds when the upload URLs expire' }),
  parts: Type.Array(UploadPart),
});
export type InitResponse = Static<typeof InitResponse>;

// --- 3. complete ---------------------------------------------------------------------

export const UploadRef = Type.Object({ task_id: TaskId, upload_id: UploadId, object_key: ObjectKey });
export type UploadRef = Static<typeof UploadRef>;

export const CompletedPart = Type.Object({
  part_number: PartNumber,
  etag: Type.String({ minLength: 1, maxLength: 200, description: 'with or without quotes' }),
});
export type CompletedPart = Static<typeof CompletedPart>;

export const CompleteRequest = Type.Object({
  task_id: TaskId,
  upload_id: UploadId,
  object_key: ObjectKey,
  file_type: Type.Optional(FileType),
  parts: Type.Array(CompletedPart, { minItems: 1, maxItems: MAX_PARTS, description: 'sorted by part_number' }),
});
export type CompleteRequest = Static<typeof CompleteRequest>;

export const CompleteResponse = Type.Object({
  task_id: Type.String(),
  object_key: Type.String(),
  file_type: FileType,
  size: Type.Integer(),
  etag: Type.String({ description: '"<md5 of the parts’ binary md5s>-<N>", as S3' }),
  message: Type.String(),
});
export type CompleteResponse = Static<typeof CompleteResponse>;

// --- 4. confirm ----------------------------------------------------------------------

/**
 * What a job is run with: the fields confirm and the form submission (`POST /tasks`) share.
 * Numbers and booleans may come as strings ("8", "true"), as HTML forms send them.
 */
export const JobOptions = Type.Object({
  job_name: Type.String({ minLength: 1, maxLength: 200 }),
  submitter: Type.Optional(Type.String({ maxLength: 100 })),
  profile_name: Type.Optional(Type.String({ minLength: 1, maxLength: 100, default: 'Standard' })),
  version: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 20,
      description: 'a configured SPEOS version such as v252 (default: the first configured)',
    }),
  ),
  thread_count: Type.Optional(Type.Integer({ minimum: 1, default: 8, description: '1 … configured maximum' })),
  priority: Type.Optional(
    Type.Integer({ minimum: 0, maximum: 5, default: 2, description: 'SPEOS process priority -p; 2 = normal' }),
  ),
  display_name: Type.Optional(Type.String({ maxLength: 200 })),
  solver_type: Type.Optional(
    Type.String({ maxLength: 40, description: 'only "speos" runs here; other solvers are refused with 422' }),
  ),
  simulation_index: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
  ray_count: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
  duration_minutes: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 525_600 })),
  hpc_job_name: Type.Optional(Type.String({ maxLength: 200 })),
  node_count: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
  walltime_hours: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 8760 })),
  use_gpu: Type.Optional(Type.Boolean()),
  ansys_release: Type.Optional(
    Type.String({
      maxLength: 20,
      description: 'Ansys release such as 2025R2; selects the SPEOS version (2025R2 → v252) when version is not given',
    }),
  ),
  project_dir: Type.Optional(Type.String({ maxLength: 1024 })),
});
export type JobOptions = Static<typeof JobOptions>;

export const ConfirmRequest = Type.Object({
  task_id: TaskId,
  master_object_key: ObjectKey,
  include_object_key: Type.Optional(ObjectKey),
  ...JobOptions.properties,
});
export type ConfirmRequest = Static<typeof ConfirmRequest>;

/** The optional solver options of confirm, stored in the task's `params`. */
export const SOLVER_OPTION_FIELDS = [
  'simulation_index',
  'ray_count',
  'duration_minutes',
  'hpc_job_name',
  'node_count',
  'walltime_hours',
  'use_gpu',
  'ansys_release',
  'project_dir',
] as const;

export const ConfirmResponse = Type.Object({
  task_id: Type.String(),
  status: TaskStatus,
  message: Type.String(),
});
export type ConfirmResponse = Static<typeof ConfirmResponse>;

/** `POST /tasks` (multipart/form-data): the original portal's one-request submission of small jobs. */
export const SubmitFormFields = Type.Object(
  {
    master_file: Type.String({ format: 'binary', description: 'the SPEOS model (.speos, .sv5 or a zip of it)' }),
    include_archive: Type.Optional(
      Type.String({ format: 'binary', description: 'an archive of the files the master references' }),
    ),
    ...Object.fromEntries(
      Object.entries(JobOptions.properties).map(([name, schema]) => [
        name,
        name === 'job_name'
          ? Type.String({ maxLength: 200 })
          : Type.Optional(Type.String({ description: schema.description })),
      ]),
    ),
  },
  { description: 'form fields; every value is text ("8", "true") except the two files' },
);

export const SubmitResponse = ConfirmResponse;
export type SubmitResponse = ConfirmResponse;

// --- 5. list, 6. abort, 7. sign ------------------------------------------------------

export const ListedPart = Type.Object({
  part_number: Type.Integer(),
  etag: Type.String({ description: 'unquoted' }),
  size: Type.Integer(),
});
export type ListedPart = Static<typeof ListedPart>;

export const ListResponse = Type.Object({ parts: Type.Array(ListedPart) });
export type ListResponse = Static<typeof ListResponse>;

export const AbortResponse = Type.Object({
  task_id: Type.String(),
  upload_id: Type.String(),
  status: Type.String(),
  message: Type.String(),
});
export type AbortResponse = Static<typeof AbortResponse>;

export const SignRequest = Type.Object({
  task_id: TaskId,
  upload_id: UploadId,
  object_key: ObjectKey,
  part_numbers: Type.Optional(
    Type.Array(PartNumber, { maxItems: MAX_PARTS, description: 'default: every part not yet stored' }),
  ),
});
export type SignRequest = Static<typeof SignRequest>;

export const SignResponse = Type.Object({ expires_at: Type.Integer(), parts: Type.Array(UploadPart) });
export type SignResponse = Static<typeof SignResponse>;

// --- 8. config -----------------------------------------------------------------------

export const UploadConfigResponse = Type.Object({
  upload_mode: Type.Literal('tos', { description: '"tos" = presigned multipart (what existing frontends look for)' }),
  max_file_size_mb: Type.Number(),
  max_file_size: Type.Integer(),
  chunk_size_mb: Type.Number(),
  chunk_size: Type.Integer(),
  url_ttl_seconds: Type.Integer(),
  speos_versions: Type.Array(Type.String()),
  default_version: Type.String(),
  profiles: Type.Array(Type.String()),
  max_thread_count: Type.Integer(),
  auth_required: Type.Boolean(),
  solver_types: Type.Array(Type.String(), { description: 'solvers this portal runs: ["speos"]' }),
  solver_ansys_release_options: Type.Record(Type.String(), Type.Array(Type.String()), {
    description: 'Ansys releases a job may ask for, per solver: {"speos": ["2025R2", …]}',
  }),
  solver_default_ansys_release: Type.Record(Type.String(), Nullable(Type.String()), {
    description: 'the release used when a job names none, per solver: {"speos": "2025R2"}',
  }),
});
export type UploadConfigResponse = Static<typeof UploadConfigResponse>;

// --- tasks ---------------------------------------------------------------------------

export const ProgressInfo = Type.Object({
  progress_percent: Nullable(Type.Number()),
  current_pass: Nullable(Type.Integer()),
  total_passes: Nullable(Type.Integer()),
  current_sensor: Nullable(Type.Integer()),
  total_sensors: Nullable(Type.Integer()),
  estimated_time: Nullable(
    Type.String({ description: 'time left for a person, e.g. "20 minutes", "5 days 14 hours"' }),
  ),
  estimated_seconds: Nullable(Type.Number({ description: 'time left in seconds' })),
  message: Nullable(Type.String()),
});
export type ProgressInfo = Static<typeof ProgressInfo>;

export const TaskFile = Type.Object({
  object_key: Type.String(),
  filename: Type.String(),
  size: Type.Integer(),
  upload_id: Type.String(),
  upload_status: Type.String({ description: 'UPLOADING | COMPLETED | ABORTED | EXPIRED' }),
});
export type TaskFile = Static<typeof TaskFile>;

/** Why a PENDING task waits for something a person must do (not merely its turn). */
export const QUEUE_REASON_CODES = ['NO_WORKER_ONLINE', 'NO_WORKER_FOR_VERSION'] as const;
export type QueueReasonCode = (typeof QUEUE_REASON_CODES)[number];

export const Task = Type.Object({
  task_id: Type.String(),
  status: TaskStatus,
  job_name: Nullable(Type.String()),
  display_name: Nullable(Type.String()),
  submitter: Nullable(Type.String()),
  solver_type: Type.String(),
  profile_name: Nullable(Type.String()),
  version: Nullable(Type.String()),
  ansys_release: Nullable(Type.String({ description: 'the Ansys release of version, e.g. 2025R2 for v252' })),
  thread_count: Nullable(Type.Integer()),
  priority: Nullable(Type.Integer()),
  params: Type.Record(Type.String(), Type.Unknown()),
  master: Nullable(TaskFile),
  include: Nullable(TaskFile),
  created_at: Type.Integer(),
  updated_at: Type.Integer(),
  started_at: Nullable(Type.Integer()),
  finished_at: Nullable(Type.Integer()),
  elapsed_seconds: Nullable(Type.Number()),
  duration: Nullable(Type.String({ description: 'elapsed time as H:MM:SS' })),
  progress_info: Nullable(ProgressInfo),
  message: Nullable(Type.String()),
  error_detail: Nullable(Type.String()),
  parent_task_id: Nullable(Type.String()),
  retry_count: Type.Integer(),
  retried_task_ids: Type.Array(Type.String()),
  download_url: Nullable(Type.String()),
  download_name: Nullable(Type.String()),
  /** A waiting (PENDING) task's place in the queue, 1 = next; null otherwise. */
  queue_position: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
  /**
   * Why a PENDING task cannot start yet, for a person: no worker is online, none runs its
   * version, or (Slurm) the scheduler's pending reason; null while it merely waits its turn.
   */
  queue_reason: Type.Optional(Nullable(Type.String())),
  /** The Slurm job of the task's run (EXECUTOR=slurm), once submitted. */
  slurm_job_id: Type.Optional(Nullable(Type.String())),
  /** Who submitted it; only in answers to admins. */
  owner: Type.Optional(Nullable(TaskOwner)),
  pinned: Type.Optional(Type.Boolean({ description: 'retention keeps its files and log (PUT /tasks/{id}/pin)' })),
  files_expired_at: Type.Optional(
    Nullable(Type.Integer({ description: 'when retention deleted its inputs and results (downloads answer 410)' })),
  ),
  logs_expired_at: Type.Optional(
    Nullable(Type.Integer({ description: 'when retention deleted its solver log (GET …/logs answers 410)' })),
  ),
  message_code: Type.Optional(
    Nullable(
      Type.String({
        description: 'message as a code (see docs/api.md, "Messages in your language"); null for a message without one',
      }),
    ),
  ),
  message_params: Type.Optional(Nullable(Type.Record(Type.String(), Type.String()))),
  queue_reason_code: Type.Optional(
    Nullable(
      Type.String({
        description: `queue_reason as a code clients can translate: ${QUEUE_REASON_CODES.join(', ')} (NO_WORKER_FOR_VERSION: the task's version)`,
      }),
    ),
  ),
});
export type Task = Static<typeof Task>;

export const WorkerInfo = Type.Object({
  worker_id: Type.String({ description: 'WORKER_ID, or host-pid' }),
  host: Type.String(),
  versions: Type.Array(Type.String(), { description: 'SPEOS versions it runs; "*" for every version' }),
  slots: Type.Integer({ description: 'tasks it runs at once' }),
  running_tasks: Type.Integer({ description: 'tasks it runs now' }),
  started_at: Type.Integer({ description: 'epoch seconds' }),
  last_heartbeat: Type.Integer({ description: 'epoch seconds' }),
  online: Type.Boolean({ description: 'it renewed its heartbeat within its lease (WORKER_LEASE_SECONDS)' }),
});
export type WorkerInfo = Static<typeof WorkerInfo>;

export const WorkerListResponse = Type.Object({
  items: Type.Array(WorkerInfo, { description: 'online workers first; offline ones are kept for a day' }),
  online: Type.Integer({ description: 'how many are online' }),
});
export type WorkerListResponse = Static<typeof WorkerListResponse>;

export const StatusChange = Type.Object({
  status: TaskStatus,
  at: Type.Integer(),
  message: Nullable(Type.String()),
  code: Type.Optional(Nullable(Type.String({ description: 'message as a code, to show it in the user language' }))),
  params: Type.Optional(Nullable(Type.Record(Type.String(), Type.String()))),
});
export type StatusChange = Static<typeof StatusChange>;

export const TaskDetail = Type.Composite([Task, Type.Object({ status_history: Type.Array(StatusChange) })]);
export type TaskDetail = Static<typeof TaskDetail>;

export const TaskListQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000, default: 1 })),
  page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
  status: Type.Optional(
    Type.String({ description: 'one status or several separated by commas, e.g. PENDING,RUNNING' }),
  ),
  submitter: Type.Optional(Type.String({ maxLength: 100 })),
  q: Type.Optional(Type.String({ maxLength: 200, description: 'matches job_name or display_name' })),
  owner: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 100,
      description: "an owner's id (admins: anyone's; others see only their own)",
    }),
  ),
});
export type TaskListQuery = Static<typeof TaskListQuery>;

export const TaskListResponse = Type.Object({
  items: Type.Array(Task),
  total: Type.Integer(),
  page: Type.Integer(),
  page_size: Type.Integer(),
});
export type TaskListResponse = Static<typeof TaskListResponse>;

export const TaskIdParams = Type.Object({ task_id: TaskId });
export const TaskFileParams = Type.Object({ task_id: TaskId, file_type: FileType });

// --- task control (worker era) -------------------------------------------------------

export const TerminatedProcess = Type.Object({
  pid: Type.Integer(),
  name: Type.String({ description: 'the process name, as ps shows it (e.g. SPEOSHPC.x)' }),
  method: Type.Union([Type.Literal('terminated'), Type.Literal('killed')], {
    description: '"terminated": ended on SIGTERM; "killed": still running after the grace period, SIGKILLed',
  }),
});
export type TerminatedProcess = Static<typeof TerminatedProcess>;

export const StopResponse = Type.Object({
  task_id: Type.String(),
  status: TaskStatus,
  message: Type.String(),
  terminated_processes: Type.Array(TerminatedProcess, {
    description: 'the solver and every process it started, as the worker ended them',
  }),
  lock_released: Type.Boolean({ description: 'the task no longer holds a worker slot' }),
  previous_status: Type.Object(
    {
      status: TaskStatus,
      started_at: Nullable(Type.Integer()),
      progress_info: Nullable(ProgressInfo),
    },
    { description: 'the task as it was when stop was asked' },
  ),
});
export type StopResponse = Static<typeof StopResponse>;

export const RetryRequest = Type.Object({
  display_name: Type.Optional(Type.String({ maxLength: 200 })),
  submitter: Type.Optional(Type.String({ maxLength: 100 })),
});
export type RetryRequest = Static<typeof RetryRequest>;

export const RetryResponse = Type.Object({
  new_task_id: Type.String(),
  original_task_id: Type.String(),
  status: TaskStatus,
  message: Type.String(),
});
export type RetryResponse = Static<typeof RetryResponse>;

export const OutputFile = Type.Object({
  name: Type.String({ description: 'path relative to the run directory, with /' }),
  size: Type.Integer(),
  url: Type.String({ description: 'download path of this file' }),
});
export type OutputFile = Static<typeof OutputFile>;

export const OutputsResponse = Type.Object({
  task_id: Type.String(),
  files: Type.Array(OutputFile),
  download_url: Nullable(Type.String({ description: 'a zip of every output file' })),
  download_name: Nullable(Type.String()),
});
export type OutputsResponse = Static<typeof OutputsResponse>;

export const LogQuery = Type.Object({
  offset: Type.Optional(
    Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0, description: 'byte offset to read from' }),
  ),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 4 * 1024 * 1024, default: 1048576 })),
});
export type LogQuery = Static<typeof LogQuery>;

export const LogResponse = Type.Object({
  task_id: Type.String(),
  offset: Type.Integer(),
  next_offset: Type.Integer({ description: 'ask from here next time' }),
  size: Type.Integer({ description: 'bytes of log so far' }),
  content: Type.String({ description: 'UTF-8 text from offset to next_offset' }),
  finished: Type.Boolean({ description: 'the task has ended; the log will not grow' }),
});
export type LogResponse = Static<typeof LogResponse>;

/** GET /usage: the caller's stored bytes against their quota. */
export const UsageResponse = Type.Object({
  used_bytes: Type.Integer({ description: 'uploads (unfinished ones at full size) and results not yet expired' }),
  quota_bytes: Nullable(Type.Integer({ description: 'USER_QUOTA_BYTES; null: no quota' })),
});
export type UsageResponse = Static<typeof UsageResponse>;

export const UserUsage = Type.Object({
  owner: Nullable(Type.String({ description: 'the owner id tasks carry (null: tasks made with auth off)' })),
  name: Nullable(Type.String()),
  email: Nullable(Type.String()),
  used_bytes: Type.Integer(),
});
export type UserUsage = Static<typeof UserUsage>;

/** GET /usage/users: admins (or anyone when auth is off). */
export const UsageByUserResponse = Type.Object({
  quota_bytes: Nullable(Type.Integer()),
  total_bytes: Type.Integer(),
  users: Type.Array(UserUsage),
});
export type UsageByUserResponse = Static<typeof UsageByUserResponse>;

/** PUT /tasks/{id}/pin answer. */
export const PinResponse = Type.Object({ task_id: Type.String(), pinned: Type.Boolean() });
export type PinResponse = Static<typeof PinResponse>;

/** GET/PUT /notifications/settings: the caller's e-mail notifications. */
export const NotificationSettings = Type.Object({
  email_enabled: Type.Boolean({ description: 'send me an e-mail when my tasks start and end' }),
  language: Type.Union([Type.Literal('en'), Type.Literal('zh')], { description: 'language of the e-mails' }),
});
export type NotificationSettings = Static<typeof NotificationSettings>;

export const NotificationSettingsResponse = Type.Composite([
  NotificationSettings,
  Type.Object({
    email: Nullable(Type.String({ description: 'where they go: the address of your sign-in account' })),
    email_available: Type.Boolean({ description: 'the server sends e-mail (SMTP_URL) and you have an address' }),
  }),
]);
export type NotificationSettingsResponse = Static<typeof NotificationSettingsResponse>;
