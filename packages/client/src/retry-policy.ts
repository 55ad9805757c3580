/**
 * The one place that decides what to do after a failed request (STYLE.md, "From Uppy").
 * Pure: the same input always gives the same decision, apart from the injected `random`.
 */
import type { ErrorCode } from '@speos-portal/protocol';

export interface RetryPolicyOptions {
  /**
   * Attempts per request, the first one included; after that the request fails.
   * @default 8
   */
  maxAttempts: number;
  /**
   * Delay before the first retry; doubles every attempt.
   * @default 500
   */
  baseDelayMs: number;
  /**
   * Ceiling of one backoff delay (and of a server's Retry-After).
   * @default 20000
   */
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicyOptions = { maxAttempts: 8, baseDelayMs: 500, maxDelayMs: 20_000 };

export interface RetryInput {
  /** HTTP status, or undefined when there was no response (network error, stall). */
  status?: number | undefined;
  /** The API error code from the response body, when there was one. */
  code?: ErrorCode | string | undefined;
  /** 1 for the attempt that just failed, 2 for the first retry… */
  attempt: number;
  /** `navigator.onLine` in browsers; always true in Node. */
  online?: boolean;
  /** The thrown error, for network failures. */
  error?: unknown;
  /** Parsed Retry-After, if the server sent one. */
  retryAfterMs?: number | undefined;
  /** True for part PUTs: only they can be re-signed. */
  canResign?: boolean;
  /** Epoch ms the URL expires; a URL already past it is re-signed without trying. */
  urlExpiresAt?: number | undefined;
  now?: number;
}

export type RetryDecision =
  | { action: 'retry'; delayMs: number; reason: string; waitForOnline?: boolean }
  | { action: 'resign'; reason: string }
  | { action: 'fail'; reason: string };

/** 403 codes from an upload URL that a freshly signed URL can cure (ours, then S3's). */
const RESIGNABLE_403 = new Set([
  'URL_EXPIRED',
  'SIGNATURE_INVALID',
  'AccessDenied',
  'SignatureDoesNotMatch',
  'RequestTimeTooSkewed',
  'ExpiredToken',
]);

/** Exponential backoff with "full jitter" (AWS architecture blog): uniform in [d/2, d]. */
export function backoffDelay(attempt: number, policy: RetryPolicyOptions, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

/**
 * @example
 * decideRetry({ status: 503, attempt: 1 }) // { action: 'retry', delayMs: ~250–500, … }
 * decideRetry({ status: 403, code: 'URL_EXPIRED', attempt: 1, canResign: true }) // { action: 'resign', … }
 * decideRetry({ status: 404, code: 'NO_SUCH_UPLOAD', attempt: 1 }) // { action: 'fail', … }
 * decideRetry({ status: 507, code: 'INSUFFICIENT_STORAGE', attempt: 1 }) // { action: 'fail', … }
 */
export function decideRetry(
  input: RetryInput,
  policy: RetryPolicyOptions = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): RetryDecision {
  const { status, code, attempt } = input;
  const exhausted = attempt >= policy.maxAttempts;
  const describe = status === undefined ? describeError(input.error) : `HTTP ${status}${code ? ` ${code}` : ''}`;

  if (status === 404 && code === 'NO_SUCH_UPLOAD') return { action: 'fail', reason: describe };
  if (input.canResign) {
    // A fresh URL cures: our URL_EXPIRED; our SIGNATURE_INVALID (the server's key changed);
    // and an S3 store's refusals, which are XML without our codes (AccessDenied "Request
    // has expired", SignatureDoesNotMatch). Bounded by maxAttempts like any retry.
    const resignable = status === 403 && (code === undefined || RESIGNABLE_403.has(code));
    const pastExpiry = input.urlExpiresAt !== undefined && (input.now ?? Date.now()) >= input.urlExpiresAt;
    if (resignable || (status === 403 && pastExpiry)) {
      return exhausted
        ? { action: 'fail', reason: `${describe} (re-signed ${attempt - 1} times)` }
        : { action: 'resign', reason: describe };
    }
  }
  // A full disk does not pass by itself: stop (keeping the saved progress) and let the
  // person resume once the operator has freed space, instead of retrying into it.
  if (status === 507) return { action: 'fail', reason: describe };
  const transient = status === undefined || status >= 500 || status === 408 || status === 429;
  if (!transient) return { action: 'fail', reason: describe };
  // Offline: waiting costs nothing and says nothing about the server, so it does not use up attempts.
  if (input.online === false) {
    return { action: 'retry', delayMs: policy.maxDelayMs, reason: 'offline', waitForOnline: true };
  }
  if (exhausted) return { action: 'fail', reason: `${describe} after ${attempt} attempts` };
  const backoff = backoffDelay(attempt, policy, random);
  const delayMs =
    input.retryAfterMs !== undefined ? Math.min(policy.maxDelayMs, Math.max(backoff, input.retryAfterMs)) : backoff;
  return { action: 'retry', delayMs, reason: describe };
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return cause?.code ? `${error.message} (${cause.code})` : error.message;
  }
  return 'network error';
}
