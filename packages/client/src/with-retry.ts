/** Retries one control-plane call by the shared retry policy; for callers outside an Uploader. */
import { OutageWatch, retryLoop } from './retry-loop.js';
import type { RetryDecision, RetryPolicyOptions } from './retry-policy.js';

export interface WithRetryOptions {
  signal?: AbortSignal | undefined;
  /** @default DEFAULT_RETRY_POLICY (an unreachable server is waited out for 10 minutes) */
  policy?: Partial<RetryPolicyOptions>;
  /** Told about every failed attempt and what happens next. */
  onRetry?: (attempt: number, decision: RetryDecision, error: unknown) => void;
  /**
   * The server's OutageWatch, to hear when waiting starts and ends (`waiting`, `reconnected`)
   * or to share one outage between calls.
   */
  watch?: OutageWatch;
  /** @default () => globalThis.navigator?.onLine ?? true */
  isOnline?: () => boolean;
}

/**
 * Calls `fn` until it succeeds, the policy says fail (then the last error is thrown) or the
 * signal aborts.
 * @example const task = await withRetry((signal) => api.getTask(id, signal));
 */
export function withRetry<T>(fn: (signal?: AbortSignal) => Promise<T>, options: WithRetryOptions = {}): Promise<T> {
  return retryLoop(() => fn(options.signal), {
    policy: options.policy,
    signal: options.signal,
    watch: options.watch ?? new OutageWatch('server', ''),
    isOnline: options.isOnline,
    onRetry: options.onRetry && (({ attempt, decision, error }) => options.onRetry?.(attempt, decision, error)),
  });
}
