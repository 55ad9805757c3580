import { describe, expect, it } from 'vitest';
import { NetworkError } from './errors.js';
import { backoffDelay, DEFAULT_RETRY_POLICY, decideRetry } from './retry-policy.js';

const policy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
const mid = () => 0.5;

describe('decideRetry', () => {
  it('retries network errors, 5xx, 408 and 429 with growing delays', () => {
    for (const status of [undefined, 500, 502, 503, 408, 429]) {
      const d1 = decideRetry({ status, attempt: 1, error: new NetworkError('reset') }, policy, mid);
      const d3 = decideRetry({ status, attempt: 3, error: new NetworkError('reset') }, policy, mid);
      expect(d1.action, String(status)).toBe('retry');
      expect(d3.action).toBe('retry');
      if (d1.action === 'retry' && d3.action === 'retry') expect(d3.delayMs).toBeGreaterThan(d1.delayMs);
    }
  });

  it('draws delays with full jitter: uniform between 0 and the exponential step, capped', () => {
    expect(backoffDelay(1, policy, () => 0)).toBe(0);
    expect(backoffDelay(1, policy, () => 0.25)).toBe(25);
    expect(backoffDelay(1, policy, () => 1)).toBe(100);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(200);
    expect(backoffDelay(3, policy, () => 1)).toBe(400);
    expect(backoffDelay(30, policy, () => 1)).toBe(1000);
    expect(backoffDelay(30, policy, () => 0)).toBe(0);
  });

  it('respects Retry-After, within the ceiling', () => {
    expect(decideRetry({ status: 429, attempt: 1, retryAfterMs: 700 }, policy, mid)).toMatchObject({ delayMs: 700 });
    expect(decideRetry({ status: 503, attempt: 1, retryAfterMs: 60_000 }, policy, mid)).toMatchObject({
      delayMs: 1000,
    });
  });

  it('stops at once on a full disk (507), even for a part PUT', () => {
    const full = { status: 507, code: 'INSUFFICIENT_STORAGE', attempt: 1 } as const;
    expect(decideRetry(full, policy).action).toBe('fail');
    expect(decideRetry({ ...full, canResign: true, online: true }, policy).action).toBe('fail');
  });

  it('gives up after maxAttempts', () => {
    expect(decideRetry({ status: 503, attempt: 5 }, policy).action).toBe('fail');
    expect(decideRetry({ attempt: 5, error: new Error('ECONNRESET') }, policy).action).toBe('fail');
  });

  it('re-signs an expired URL, and a 403 on a URL known to be past expiry', () => {
    expect(decideRetry({ status: 403, code: 'URL_EXPIRED', attempt: 1, canResign: true }).action).toBe('resign');
    expect(
      decideRetry({ status: 403, code: 'AccessDenied', attempt: 1, canResign: true, urlExpiresAt: 1000, now: 2000 })
        .action,
    ).toBe('resign');
    // An S3 store refuses in XML, without our JSON codes: a fresh URL is the cure there too.
    expect(decideRetry({ status: 403, attempt: 1, canResign: true }).action).toBe('resign');
    expect(decideRetry({ status: 403, code: 'SignatureDoesNotMatch', attempt: 1, canResign: true }).action).toBe(
      'resign',
    );
    // Our own SIGNATURE_INVALID: the server's signing key changed since the URL was made.
    expect(decideRetry({ status: 403, code: 'SIGNATURE_INVALID', attempt: 1, canResign: true }).action).toBe('resign');
    // Bounded like any retry.
    expect(decideRetry({ status: 403, attempt: 8, canResign: true }).action).toBe('fail');
    // Control-plane calls have no URL to re-sign.
    expect(decideRetry({ status: 403, code: 'URL_EXPIRED', attempt: 1 }).action).toBe('fail');
  });

  it('stops on NO_SUCH_UPLOAD and fails fast on other 4xx', () => {
    expect(decideRetry({ status: 404, code: 'NO_SUCH_UPLOAD', attempt: 1, canResign: true }).action).toBe('fail');
    for (const [status, code] of [
      [400, 'PART_SIZE_MISMATCH'],
      [401, 'UNAUTHENTICATED'],
      [403, 'FORBIDDEN_BY_POLICY'],
      [409, 'ALREADY_CONFIRMED'],
      [422, 'VALIDATION_FAILED'],
    ] as const) {
      expect(decideRetry({ status, code, attempt: 1, canResign: true }).action, code).toBe('fail');
    }
  });

  it('waits out an outage (no answer, 502, 503, 504) for maxWaitMs, beyond maxAttempts', () => {
    const patient = { ...policy, maxWaitMs: 60_000 };
    for (const status of [undefined, 502, 503, 504]) {
      const during = decideRetry({ status, attempt: 50, waitedMs: 30_000, error: new NetworkError('x') }, patient, mid);
      expect(during, String(status)).toMatchObject({ action: 'retry', outage: true });
      const over = decideRetry({ status, attempt: 50, waitedMs: 60_000, error: new NetworkError('x') }, patient, mid);
      expect(over.action, String(status)).toBe('fail');
      expect(over.reason).toMatch(/after 50 attempts and 60 s of waiting/);
    }
    // The last try comes when the wait is up, not a whole backoff later.
    expect(decideRetry({ status: 503, attempt: 9, waitedMs: 59_900 }, patient, () => 1)).toMatchObject({
      delayMs: 100,
    });
    // Other failures still use up attempts: a 500 is a bug, not an outage.
    expect(decideRetry({ status: 500, attempt: 5, waitedMs: 0 }, patient).action).toBe('fail');
    expect(decideRetry({ status: 429, attempt: 5, waitedMs: 0 }, patient).action).toBe('fail');
    // The default waits ten minutes.
    expect(DEFAULT_RETRY_POLICY.maxWaitMs).toBe(600_000);
    expect(decideRetry({ status: 503, attempt: 8, waitedMs: 599_000 }).action).toBe('retry');
    expect(decideRetry({ status: 503, attempt: 8, waitedMs: 600_000 }).action).toBe('fail');
  });

  it('waits for the network while offline without using up attempts', () => {
    const d = decideRetry({ attempt: 99, online: false, error: new TypeError('fetch failed') }, DEFAULT_RETRY_POLICY);
    expect(d).toMatchObject({ action: 'retry', waitForOnline: true });
  });
});
