/**
 * Every error the API can answer with, in one table: code → HTTP status and what it means.
 * The server turns these into `{"detail", "code"}` bodies; clients branch on `code`.
 * A test keeps this table, the OpenAPI document and docs/api*.md in step.
 */
export const ERRORS = {
  BAD_REQUEST: {
    status: 400,
    summary: 'the request could not be read: malformed HTTP, URL encoding or Content-Length',
  },
  INVALID_PART_ORDER: { status: 400, summary: 'parts in complete are not in strictly ascending part_number order' },
  DUPLICATE_PART: { status: 400, summary: 'a part_number appears twice in complete' },
  MISSING_PARTS: {
    status: 400,
    summary: 'complete lists fewer parts than the upload has, or names parts never uploaded',
  },
  INVALID_PART: { status: 400, summary: 'a part_number outside 1…total_chunks' },
  ETAG_MISMATCH: { status: 400, summary: 'an ETag in complete differs from the stored part' },
  PART_SIZE_MISMATCH: { status: 400, summary: 'the body of a part PUT (or a stored part) has the wrong length' },
  LOGIN_FAILED: {
    status: 400,
    summary:
      'the sign-in callback was refused (state, nonce or PKCE mismatch, replayed or expired, or the provider refused)',
  },
  LOGIN_CODE_INVALID: { status: 400, summary: 'a `speos-portal login` code is unknown, expired or already used' },
  UNAUTHENTICATED: {
    status: 401,
    summary: 'auth is enabled and there is no valid credential (bearer token, API token or session)',
  },
  FORBIDDEN: { status: 403, summary: 'signed in, but this needs an admin or a browser session' },
  CSRF_REJECTED: {
    status: 403,
    summary: 'a change made with the session cookie came from another site (Origin not this portal)',
  },
  LOGIN_DENIED: { status: 403, summary: 'the person denied the `speos-portal login` request in the browser' },
  SIGNATURE_INVALID: { status: 403, summary: 'the upload URL was altered or signed with another key' },
  URL_EXPIRED: { status: 403, summary: 'the upload URL is past its expiry; call sign for a fresh one' },
  TASK_NOT_FOUND: { status: 404, summary: 'no such task (or it belongs to another user)' },
  NO_SUCH_UPLOAD: { status: 404, summary: 'no such upload, or it was aborted or expired' },
  NOT_FOUND: { status: 404, summary: 'no such route or file' },
  UPLOAD_NOT_COMPLETED: { status: 409, summary: 'confirm names an upload that is not completed' },
  UPLOAD_ALREADY_COMPLETED: { status: 409, summary: 'the upload was already completed with other parts' },
  ALREADY_CONFIRMED: { status: 409, summary: 'the task was already confirmed with a different body' },
  TASK_NOT_RUNNING: { status: 409, summary: 'the task is not pending or running' },
  INVALID_STATE: { status: 409, summary: 'the operation does not fit the current state of the task or upload' },
  IDEMPOTENCY_KEY_REUSED: {
    status: 409,
    summary: 'this Idempotency-Key was already used for a different request; use a new key',
  },
  FILES_EXPIRED: {
    status: 410,
    summary: "the task's files (or its solver log) were deleted by retention; the task and its history stay",
  },
  REQUEST_TIMEOUT: { status: 408, summary: 'the request headers did not arrive in time' },
  FILE_TOO_LARGE: { status: 413, summary: 'file_size is above the configured maximum' },
  TOO_MANY_PARTS: { status: 413, summary: 'ceil(file_size / chunk_size) is above 10 000' },
  QUOTA_EXCEEDED: {
    status: 413,
    summary: "storing this would exceed the user's storage quota (USER_QUOTA_BYTES); nothing was stored",
  },
  REQUEST_TOO_LARGE: { status: 413, summary: 'the JSON body is larger than 4 MiB' },
  URI_TOO_LONG: { status: 414, summary: 'a segment of the URL path is longer than 100 characters' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, summary: 'the request body is not JSON' },
  RANGE_NOT_SATISFIABLE: { status: 416, summary: 'the Range header lies outside the file' },
  VALIDATION_FAILED: { status: 422, summary: 'a field is missing or breaks a rule; detail names it' },
  RATE_LIMITED: { status: 429, summary: 'too many requests; retry after Retry-After seconds' },
  HEADERS_TOO_LARGE: { status: 431, summary: 'the request headers are larger than the server accepts' },
  INTERNAL_ERROR: { status: 500, summary: 'a bug or an unexpected failure; the log has the request id' },
  IDENTITY_PROVIDER_UNAVAILABLE: {
    status: 503,
    summary: 'the OpenID provider cannot be reached; retry after Retry-After',
  },
  STORAGE_UNAVAILABLE: {
    status: 503,
    summary: 'the object store (or the disk of the server) cannot be reached; retry after Retry-After',
  },
  DATABASE_UNAVAILABLE: {
    status: 503,
    summary: 'the database cannot be reached; retry after Retry-After',
  },
  INSUFFICIENT_STORAGE: {
    status: 507,
    summary: "the server's disk is full; do not retry until the operator frees space, then resume",
  },
} as const satisfies Record<string, { status: number; summary: string }>;

export type ErrorCode = keyof typeof ERRORS;

/**
 * The one `Retry-After` value (seconds) the server sends, with every 503 and 429: long
 * enough for a database or store to come back from a restart, short enough that an
 * upload resumes promptly. Clients still back off further on repeated failures.
 */
export const RETRY_AFTER_SECONDS = 5;

export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

/** The JSON body of every error response. */
export interface ErrorBody {
  detail: string;
  code: ErrorCode;
  /** For VALIDATION_FAILED: one entry per broken rule. */
  errors?: { field: string; message: string }[];
}

/** An error with an API code; the server's single error handler turns it into a response. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly extra: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, detail: string, extra?: Record<string, unknown>) {
    super(detail);
    this.name = 'ApiError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.extra = extra;
  }
}
