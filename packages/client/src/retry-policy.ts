/**
 * The one place that decides what to do after a failed request (retry-loop.ts carries the
 * decision out). Pure: the same input always gives the same decision, apart from the injected
 * `random`.
 */
import type { ErrorCode } from '@speos-portal/protocol';

export interface RetryPolicyOptions {
  /**
   * Attempts per request, the first one included; after that the request fails — unless
   * the server or store is unreachable, which is waited out for `maxWaitMs`.
   * @default 8
   */
  maxAttempts: number;
  /**
   * Delay before the first retry; doubles every attempt.
   * @default 500
   */
  baseDelayMs: number;
  /**
   * Ceiling of one backoff delay (and of a server's Retry-After): while a server is down,
   * it is asked again at least this often.
   * @default 10000
   */
  maxDelayMs: number;
  /**
   * How long an outage — no answer at all, or 502/503/504 — is waited out, counted from the
   * first failure of the current outage, before the request fails even with attempts left
   * over (or beyond `maxAttempts`). 0: outages use up attempts like other failures.
   * @default 600000 (10 minutes)
   */
  maxWaitMs?: number;
}

export const DEFAULT_RETRY_POLICY: Required<RetryPolicyOptions> = {
  maxAttempts: 8,
  baseDelayMs: 500,
  maxDelayMs: 10_000,
  maxWaitMs: 10 * 60_000,
};

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
  /** How long the current outage of this server or store has lasted (0 at its first failure). */
  waitedMs?: number;
  now?: number;
}

export type RetryDecision =
  | {
      action: 'retry';
      delayMs: number;
      reason: string;
      waitForOnline?: boolean;
      /** The server or store did not answer (network error, 502/503/504): waited out up to maxWaitMs. */
      outage?: boolean;
    }
  | { action: 'resign'; reason: string }
  | { action: 'fail'; reason: string };

/** No answer, or a proxy's or server's "not available now": worth waiting for. */
export function isOutage(status: number | undefined): boolean {
  return status === undefined || status === 502 || status === 503 || status === 504;
}

/** 403 codes from an upload URL that a freshly signed URL can cure (ours, then S3's). */
const RESIGNABLE_403 = new Set([
  'URL_EXPIRED',
  'SIGNATURE_INVALID',
  'AccessDenied',
  'SignatureDoesNotMatch',
  'RequestTimeTooSkewed',
  'ExpiredToken',
]);

/**
 * Exponential backoff with "full jitter" (AWS architecture blog, "Exponential Backoff and
 * Jitter"): uniform in [0, d], d = min(maxDelayMs, baseDelayMs · 2^(attempt−1)). Clients that
 * failed together (a server restart) spread out instead of returning in waves.
 */
export function backoffDelay(attempt: number, policy: RetryPolicyOptions, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(random() * exp);
}

/**
 * @example
 * decideRetry({ status: 503, attempt: 1 }) // { action: 'retry', delayMs: 0–500, outage: true, … }
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
  const outage = isOutage(status);
  const waitedMs = input.waitedMs ?? 0;
  const maxWaitMs = policy.maxWaitMs ?? 0;
  // An outage is waited out by time, not attempts: a server restart or a store upgrade
  // outlasts any sensible number of quick retries.
  const waitLeftMs = outage ? maxWaitMs - waitedMs : 0;
  if (exhausted && waitLeftMs <= 0) {
    const waited = outage && waitedMs > 0 ? ` and ${formatWait(waitedMs)} of waiting` : '';
    return { action: 'fail', reason: `${describe} after ${attempt} attempts${waited}` };
  }
  const backoff = backoffDelay(attempt, policy, random);
  let delayMs =
    input.retryAfterMs !== undefined ? Math.min(policy.maxDelayMs, Math.max(backoff, input.retryAfterMs)) : backoff;
  // The last try of a long wait comes when the wait is up, not a backoff later.
  if (exhausted) delayMs = Math.min(delayMs, waitLeftMs);
  return outage
    ? { action: 'retry', delayMs, reason: describe, outage }
    : { action: 'retry', delayMs, reason: describe };
}

/** "45 s", "3 min", "1.5 h" */
export function formatWait(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${Math.round((seconds / 3600) * 10) / 10} h`;
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    return cause?.code ? `${error.message} (${cause.code})` : error.message;
  }
  return 'network error';
}
