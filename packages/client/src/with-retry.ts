/** Retries one control-plane call by the shared retry policy; for callers outside an Uploader. */
import { NetworkError, PortalApiError } from './errors.js';
import { DEFAULT_RETRY_POLICY, decideRetry, type RetryDecision, type RetryPolicyOptions } from './retry-policy.js';

export interface WithRetryOptions {
  signal?: AbortSignal | undefined;
  /** @default DEFAULT_RETRY_POLICY */
  policy?: Partial<RetryPolicyOptions>;
  /** Told about every failed attempt and what happens next. */
  onRetry?: (attempt: number, decision: RetryDecision, error: unknown) => void;
}

/**
 * Calls `fn` until it succeeds, the policy says fail (then the last error is thrown) or the
 * signal aborts.
 * @example const task = await withRetry((signal) => api.getTask(id, signal));
 */
export async function withRetry<T>(
  fn: (signal?: AbortSignal) => Promise<T>,
  options: WithRetryOptions = {},
): Promise<T> {
  const policy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(options.signal);
    } catch (error) {
      options.signal?.throwIfAborted();
      if (!(error instanceof PortalApiError) && !(error instanceof NetworkError)) throw error;
      const decision =
        error instanceof PortalApiError
          ? decideRetry({ status: error.status, code: error.code, attempt, retryAfterMs: error.retryAfterMs }, policy)
          : decideRetry({ attempt, error }, policy);
      options.onRetry?.(attempt, decision, error);
      if (decision.action !== 'retry') throw error;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, decision.delayMs);
        options.signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(timer);
            reject(options.signal?.reason);
          },
          { once: true },
        );
      });
    }
  }
}
