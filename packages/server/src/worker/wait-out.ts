/**
 * Repeats one step of finishing a run (store a result file, write the log, record the
 * outcome) while its backend cannot be reached, with capped exponential backoff, until it
 * succeeds, the deadline passes or the run is halted (stop requested, lease lost). With a
 * `probe` (a cheap request to the same backend) the pause is cut short as soon as the
 * backend answers again, so a long outage does not cost up to a whole backoff afterwards.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOutOptions {
  /** Failures worth waiting out; any other error is thrown at once. */
  transient: (error: unknown) => boolean;
  /** Epoch ms; a transient failure after it is thrown. */
  deadline: number;
  /** Called on each transient failure before the pause (attempt 1 is the first failure). */
  onWait?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Called once when the step succeeds after having waited. */
  onRecovered?: (waitedMs: number) => void;
  /** Aborting ends the wait: the signal's reason is thrown. */
  signal?: AbortSignal;
  /** Resolves when the backend answers; tried every `probeMs` during a pause. */
  probe?: () => Promise<unknown>;
  /** @default 1000 */
  probeMs?: number;
  /** @default 500 */
  baseDelayMs?: number;
  /** @default 10000 */
  maxDelayMs?: number;
  now?: () => number;
}

export async function waitOut<T>(step: () => Promise<T>, options: WaitOutOptions): Promise<T> {
  const now = options.now ?? Date.now;
  const base = options.baseDelayMs ?? 500;
  const cap = options.maxDelayMs ?? 10_000;
  let firstFailure: number | undefined;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      const result = await step();
      if (firstFailure !== undefined) options.onRecovered?.(now() - firstFailure);
      return result;
    } catch (error) {
      options.signal?.throwIfAborted();
      if (!options.transient(error)) throw error;
      firstFailure ??= now();
      const delayMs = Math.min(cap, base * 2 ** (attempt - 1));
      if (now() + delayMs > options.deadline) throw error;
      options.onWait?.(error, attempt, delayMs);
      await pause(delayMs, options);
    }
  }
}

/** Sleeps `ms`, or less: until a probe succeeds. */
async function pause(ms: number, options: WaitOutOptions): Promise<void> {
  const nap = (span: number) =>
    sleep(span, undefined, options.signal ? { signal: options.signal } : undefined).catch(() => {
      options.signal?.throwIfAborted();
    });
  if (!options.probe) return nap(ms);
  const step = options.probeMs ?? 1000;
  const end = Date.now() + ms;
  for (let left = ms; left > 0; left = end - Date.now()) {
    await nap(Math.min(step, left));
    if (Date.now() >= end) return;
    const answered = await options.probe().then(
      () => true,
      () => false,
    );
    if (answered) return;
  }
}
