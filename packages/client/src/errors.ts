/** Errors the client raises. Callers branch on `code`, people read `message`. */
import type { ErrorCode } from '@speos-portal/protocol';

/** The server answered with an error status (`{"detail", "code"}` body when it is ours). */
export class PortalApiError extends Error {
  readonly status: number;
  /** The API error code, or undefined when the body was not one of ours (e.g. a proxy's 502). */
  readonly code: ErrorCode | undefined;
  /** The server's human-readable `detail`. */
  readonly detail: string;
  /** From `Retry-After`, when the server sent one. */
  readonly retryAfterMs: number | undefined;

  constructor(status: number, code: ErrorCode | undefined, detail: string, retryAfterMs?: number) {
    super(detail);
    this.name = 'PortalApiError';
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.retryAfterMs = retryAfterMs;
  }
}

/** The request never got an HTTP answer: refused, reset, DNS, TLS, timeout. */
export class NetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NetworkError';
  }
}

/** A part made no progress for `stallTimeoutMs`; its request was aborted. */
export class StallError extends NetworkError {
  constructor(partNumber: number, ms: number) {
    super(`part ${partNumber} made no progress for ${Math.round(ms / 1000)} s`);
    this.name = 'StallError';
  }
}

export type UploadErrorCode =
  /** The server no longer knows the upload (aborted, expired or never existed). */
  | 'NO_SUCH_UPLOAD'
  /** The local file differs from what was uploaded before: resuming would mix old and new bytes. */
  | 'FILE_CHANGED'
  /** `pause()` stopped the run. */
  | 'PAUSED'
  /** `cancel()` stopped the run. */
  | 'CANCELLED'
  /** The caller's AbortSignal fired. */
  | 'ABORTED'
  /** A request failed for good (fail-fast 4xx, or retries exhausted). */
  | 'REQUEST_FAILED';

/** Why an upload stopped. `cause` holds the underlying PortalApiError / NetworkError. */
export class UploadError extends Error {
  readonly code: UploadErrorCode;
  constructor(code: UploadErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UploadError';
    this.code = code;
  }
}

/** Parses `Retry-After` (seconds or an HTTP date, RFC 9110 10.2.3) into milliseconds. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
