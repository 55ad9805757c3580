/**
 * How many parts to keep in flight, decided from what the upload measures (docs/performance.md).
 *
 * Each part costs its transfer plus one round trip (its answer) plus the server's own work;
 * with too few parts in flight those round trips leave the link idle, with too many the
 * parts only share the link and a failure costs more. So: start with a few, double while a
 * window of finished parts shows the throughput rising, then hold; halve after a failure
 * (error, stall) and step down when throughput falls well below the best seen; never above
 * `max` (the memory cap and the transport's connections). After a failure it grows back, but
 * no higher than the level where growing stopped paying.
 *
 * A pure function of (state, observation): the uploader feeds it, tests drive it with numbers.
 */

export interface AdaptiveConcurrencyOptions {
  /**
   * Parts in flight at the start.
   * @default 4
   */
  initial?: number;
  /** @default 2 */
  min?: number;
  /**
   * Upper bound, before the memory cap.
   * @default 32
   */
  max?: number;
  /**
   * Bytes of parts in flight at most (the largest amount a transport may hold in memory at
   * once, were it to buffer whole parts); with 5 MiB parts 256 MiB allows 51.
   * @default 268435456 (256 MiB)
   */
  maxInFlightBytes?: number;
  /**
   * A window must be this much faster than the one before to count as rising.
   * @default 0.1
   */
  minGain?: number;
}

export interface ConcurrencyState {
  /** Parts in flight now. */
  limit: number;
  /** The largest limit allowed (options and memory cap applied). */
  max: number;
  /** Where growing stopped paying (the level held), undefined until then. */
  plateau: number | undefined;
  min: number;
  /** `grow`: doubling while throughput rises; `hold`: found the level, watching it. */
  phase: 'grow' | 'hold';
  /**
   * The first window is not measured: it holds connection set-up and the first parts'
   * start, and would make the next window look like a gain that is not there.
   */
  warmup: boolean;
  /** Throughput (bytes/s) of the last window measured, 0 before the first. */
  lastRate: number;
  /** Best window throughput at the current level (bytes/s). */
  bestRate: number;
  /** Start of the current window (ms) and bytes finished in it. */
  windowStart: number;
  windowBytes: number;
  windowParts: number;
  minGain: number;
}

export type ConcurrencyEvent =
  /** A part was stored; `now` in ms. */
  | { type: 'part-done'; bytes: number; now: number }
  /** A part attempt failed (network error, stall, 5xx) and will be retried. */
  | { type: 'failure'; now: number };

/** The starting state for parts of `partSize` bytes. */
export function initialConcurrency(
  partSize: number,
  now: number,
  options: AdaptiveConcurrencyOptions = {},
): ConcurrencyState {
  const min = Math.max(1, Math.floor(options.min ?? 2));
  const memoryCap = Math.floor((options.maxInFlightBytes ?? 256 * 1024 * 1024) / Math.max(1, partSize));
  const max = Math.max(min, Math.min(Math.floor(options.max ?? 32), memoryCap));
  const limit = Math.min(max, Math.max(min, Math.floor(options.initial ?? 4)));
  return {
    limit,
    max,
    min,
    plateau: undefined,
    phase: 'grow',
    warmup: true,
    lastRate: 0,
    bestRate: 0,
    windowStart: now,
    windowBytes: 0,
    windowParts: 0,
    minGain: options.minGain ?? 0.1,
  };
}

/** The next state after one event; `limit` is how many parts may be in flight from now on. */
export function nextConcurrency(state: ConcurrencyState, event: ConcurrencyEvent): ConcurrencyState {
  if (event.type === 'failure') {
    // Back off at once and measure afresh from here (the old window mixed both levels); grow
    // back while that pays, as a lost connection says little about the right level.
    const limit = Math.max(state.min, Math.floor(state.limit / 2));
    return { ...state, limit, phase: 'grow', lastRate: 0, bestRate: 0, ...freshWindow(event.now) };
  }
  const s = { ...state, windowBytes: state.windowBytes + event.bytes, windowParts: state.windowParts + 1 };
  // A window is as many finished parts as there are in flight: every connection had its turn.
  if (s.windowParts < s.limit) return s;
  const elapsed = event.now - s.windowStart;
  if (elapsed <= 0) return { ...s, ...freshWindow(event.now) };
  const rate = (s.windowBytes * 1000) / elapsed;
  if (s.warmup) return { ...s, warmup: false, ...freshWindow(event.now) };
  const next = { ...s, lastRate: rate, ...freshWindow(event.now) };
  if (s.phase === 'grow') {
    const rising = s.lastRate === 0 || rate > s.lastRate * (1 + s.minGain);
    const top = Math.min(s.max, s.plateau ?? s.max);
    if (rising && s.limit < top) return { ...next, limit: Math.min(top, s.limit * 2), bestRate: rate };
    if (rising) return { ...next, phase: 'hold', plateau: s.limit, bestRate: rate };
    // No gain from the last doubling: go back halfway to the level before it and hold there.
    const limit = Math.max(s.min, Math.ceil((s.limit * 3) / 4));
    return { ...next, phase: 'hold', limit, plateau: limit, bestRate: Math.max(rate, s.lastRate) };
  }
  // Holding: a clear drop (another flow on the link, a slow store) steps down by one, but
  // only after a window that could tell; a recovery is simply the new best.
  if (rate < s.bestRate * 0.6 && s.limit > s.min) return { ...next, limit: s.limit - 1, bestRate: rate };
  return { ...next, bestRate: Math.max(s.bestRate, rate) };
}

function freshWindow(now: number): Pick<ConcurrencyState, 'windowStart' | 'windowBytes' | 'windowParts'> {
  return { windowStart: now, windowBytes: 0, windowParts: 0 };
}
