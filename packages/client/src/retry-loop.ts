/**
 * The client's one retry loop: part uploads, control-plane calls and `withRetry` all run
 * through `retryLoop`, which asks the pure `decideRetry` (retry-policy.ts) what to do after
 * each failure and carries it out — wait (for the network to come back, for a server that
 * does not answer), re-sign, or give up.
 *
 * An OutageWatch is shared by every request to one server or store (one per origin): it
 * knows when the current outage began, so `maxWaitMs` bounds the outage rather than each
 * request, it says once that the client is waiting and once that it got through, and when
 * any request gets an answer it wakes every request waiting for that origin at once.
 */
import { Emitter } from './emitter.js';
import { NetworkError, PortalApiError, StallError } from './errors.js';
import {
  DEFAULT_RETRY_POLICY,
  decideRetry,
  isOutage,
  type RetryDecision,
  type RetryInput,
  type RetryPolicyOptions,
} from './retry-policy.js';

/** What a server or store is to the person waiting for it. */
export type OutageTarget = 'server' | 'storage';

export interface OutageEvents extends Record<string, unknown> {
  /** The origin stopped answering (the second failure in a row without an answer between). */
  waiting: { target: OutageTarget; origin: string; since: number; reason: string; maxWaitMs: number };
  /** After `waiting`: a request got an answer again. */
  reconnected: { target: OutageTarget; origin: string; downForMs: number };
}

/** Failures in a row, without an answer between, before the watch says it is waiting. */
const FAILURES_BEFORE_WAITING = 2;

/**
 * Asks whether the origin is back, cheaply (without repeating a request that sends a part).
 * `status` is the last failure's: undefined for no answer, else the 5xx it answered.
 */
export type OutageProbe = (status: number | undefined) => Promise<boolean>;

export interface OutageWatchOptions {
  /** Polled while requests wait; true wakes them all at once. */
  probe?: OutageProbe | undefined;
  /** @default 2000 */
  probeMs?: number;
  now?: () => number;
}

export class OutageWatch extends Emitter<OutageEvents> {
  readonly target: OutageTarget;
  readonly origin: string;
  readonly #now: () => number;
  readonly #probe: OutageProbe | undefined;
  readonly #probeMs: number;
  #probing: ReturnType<typeof setInterval> | undefined;
  #probeInFlight = false;
  #lastStatus: number | undefined;
  #since: number | undefined;
  #failures = 0;
  #announced = false;
  readonly #sleepers = new Set<() => void>();

  constructor(target: OutageTarget, origin: string, options: OutageWatchOptions = {}) {
    super();
    this.target = target;
    this.origin = origin;
    this.#now = options.now ?? Date.now;
    this.#probe = options.probe;
    this.#probeMs = options.probeMs ?? 2000;
  }

  /** True between `waiting` and `reconnected`. */
  get waiting(): boolean {
    return this.#announced;
  }

  /** Epoch ms the current outage began, or undefined. */
  get since(): number | undefined {
    return this.#since;
  }

  /**
   * A request got no answer (`status` undefined) or a 502/503/504; returns how long the
   * outage has lasted. With `maxWaitMs` 0 nothing waits beyond its attempts, so nothing is
   * announced.
   */
  failed(reason: string, maxWaitMs: number, status?: number): number {
    const now = this.#now();
    this.#since ??= now;
    this.#failures++;
    this.#lastStatus = status;
    if (!this.#announced && maxWaitMs > 0 && this.#failures >= FAILURES_BEFORE_WAITING) {
      this.#announced = true;
      this.emit('waiting', { target: this.target, origin: this.origin, since: this.#since, reason, maxWaitMs });
    }
    return now - this.#since;
  }

  /** A request got an answer (any answer but an outage's): the outage is over, waiters try at once. */
  answered(): void {
    this.#stopProbing();
    const since = this.#since;
    this.#since = undefined;
    this.#failures = 0;
    if (this.#announced) {
      this.#announced = false;
      this.emit('reconnected', { target: this.target, origin: this.origin, downForMs: this.#now() - (since ?? 0) });
    }
    for (const wake of this.#sleepers) wake();
  }

  /**
   * Waits `ms`, or less: until the origin answers another request, or (with `untilOnline`)
   * the browser says the network is back. Rejects with the signal's reason on abort.
   */
  sleep(ms: number, signal: AbortSignal | undefined, untilOnline: boolean, wakeOnAnswer: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const target = globalThis as {
        addEventListener?: EventTarget['addEventListener'];
        removeEventListener?: EventTarget['removeEventListener'];
      };
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', aborted);
        if (untilOnline) target.removeEventListener?.('online', done);
        this.#sleepers.delete(done);
      };
      const done = () => {
        cleanup();
        resolve();
      };
      const aborted = () => {
        cleanup();
        reject(signal?.reason);
      };
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', aborted, { once: true });
      if (untilOnline) target.addEventListener?.('online', done, { once: true });
      if (wakeOnAnswer) {
        this.#sleepers.add(done);
        this.#startProbing();
      }
    });
  }

  /** One probe loop per origin however many requests wait; it ends with the outage or the waiters. */
  #startProbing(): void {
    if (!this.#probe || this.#probing) return;
    this.#probing = setInterval(() => {
      if (this.#sleepers.size === 0 || this.#since === undefined) {
        this.#stopProbing();
        return;
      }
      if (this.#probeInFlight) return;
      this.#probeInFlight = true;
      void this.#probe!(this.#lastStatus)
        .catch(() => false)
        .then((back) => {
          this.#probeInFlight = false;
          if (back && this.#since !== undefined) this.answered();
        });
    }, this.#probeMs);
    // Never what keeps a process alive: the waiting requests do that.
    (this.#probing as { unref?: () => void }).unref?.();
  }

  #stopProbing(): void {
    clearInterval(this.#probing);
    this.#probing = undefined;
  }
}

/** The facts decideRetry needs about a failure; undefined for errors that are not worth retrying. */
export type RetryFacts = Omit<RetryInput, 'attempt' | 'online' | 'waitedMs' | 'now'>;

/** Facts about the client's own errors: PortalApiError (an HTTP answer) and NetworkError (none). */
export function retryFacts(error: unknown): RetryFacts | undefined {
  if (error instanceof PortalApiError) {
    return { status: error.status, code: error.code, retryAfterMs: error.retryAfterMs };
  }
  if (error instanceof NetworkError) return { error };
  return undefined;
}

export interface RetryLoopOptions {
  /** @default DEFAULT_RETRY_POLICY */
  policy?: Partial<RetryPolicyOptions> | undefined;
  signal?: AbortSignal | undefined;
  /**
   * The watch of the server or store this request goes to (share it between requests); a
   * function when that is known only after an attempt (a part's URL comes from sign).
   * @default a watch of its own, for the server
   */
  watch?: OutageWatch | (() => OutageWatch) | undefined;
  /**
   * Whether the network is up; retries wait while it is not.
   * @default () => globalThis.navigator?.onLine ?? true
   */
  isOnline?: (() => boolean) | undefined;
  /** @default retryFacts (anything else is thrown as is) */
  classify?: ((error: unknown) => RetryFacts | undefined) | undefined;
  /** Told about every failed attempt and what happens next, before it happens. */
  onRetry?: ((event: { attempt: number; decision: RetryDecision; error: unknown }) => void) | undefined;
  /** The error to throw when the policy says fail. @default the request's own error */
  giveUp?: ((error: unknown, decision: RetryDecision) => unknown) | undefined;
  /** @default Math.random */
  random?: (() => number) | undefined;
}

const defaultOnline = () => (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine ?? true;

/**
 * Calls `attempt(n)` until it resolves, the policy says fail, or the signal aborts.
 * @example const task = await retryLoop(() => api.getTask(id), { watch });
 */
export async function retryLoop<T>(attempt: (n: number) => Promise<T>, options: RetryLoopOptions = {}): Promise<T> {
  const policy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
  const own = new OutageWatch('server', '');
  const given = options.watch;
  const watchNow = () => (typeof given === 'function' ? given() : (given ?? own));
  const isOnline = options.isOnline ?? defaultOnline;
  const classify = options.classify ?? retryFacts;
  for (let n = 1; ; n++) {
    let failure: unknown;
    try {
      const result = await attempt(n);
      watchNow().answered();
      return result;
    } catch (error) {
      failure = error;
    }
    options.signal?.throwIfAborted();
    const facts = classify(failure);
    if (!facts) throw failure;
    const outage = isOutage(facts.status);
    const online = isOnline();
    const watch = watchNow();
    // Offline says nothing about the server: it neither starts nor ends its outage.
    let waitedMs = 0;
    if (online) {
      if (outage) waitedMs = watch.failed(reasonOf(facts), policy.maxWaitMs, facts.status);
      else watch.answered();
    }
    const decision = decideRetry({ ...facts, attempt: n, online, waitedMs }, policy, options.random);
    options.onRetry?.({ attempt: n, decision, error: failure });
    if (decision.action === 'fail') throw options.giveUp ? options.giveUp(failure, decision) : failure;
    if (decision.action === 'resign') continue;
    // Waiting for the network does not use up attempts.
    if (decision.waitForOnline) n--;
    await watch.sleep(decision.delayMs, options.signal, decision.waitForOnline === true, outage);
  }
}

/**
 * "HTTP 503 DATABASE_UNAVAILABLE", the socket's error code (ECONNREFUSED) found along the
 * causes, or "no answer" (browsers do not say why a request failed).
 */
function reasonOf(facts: RetryFacts): string {
  if (facts.status !== undefined) return `HTTP ${facts.status}${facts.code ? ` ${facts.code}` : ''}`;
  for (let error = facts.error, depth = 0; error && depth < 4; depth++) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
    error = (error as { cause?: unknown }).cause;
  }
  return facts.error instanceof StallError ? 'no progress' : 'no answer';
}
