/**
 * How many parts to keep in flight, decided from what the upload measures (docs/performance.md).
 *
 * Each part costs its transfer plus one round trip (its answer) plus the server's own work;
 * with too few parts in flight those round trips leave the link idle, with too many the
 * parts only share the link and a failure costs more. So: start with a few, double while a
 * window of finished parts shows the throughput rising, then hold; now and then probe one
 * level up again, and go back if it did not pay; halve after a failure (error, stall); never
 * above `max` (the memory cap and the transport's connections). After a failure it grows
 * back, but no higher than the level where growing stopped paying, until the next probe.
 *
 * Throughput at a level is measured the way Little's law gives it: parts in flight × bytes
 * per part ÷ the parts' own durations, counting only parts started at that level. Counting
 * bytes finished per window of wall time instead was fooled by parts that share the link
 * finishing together, and a held level was stepped down whenever a window looked 40 %
 * slower than the best: on a 1 Gbit/s, 100 ms link the limit went from 8 to 3 on that noise
 * alone (a `--trace` of the network bench, docs/performance.md). A server's pauses still make
 * single windows look slow, so a slow window changes nothing by itself: only failures lower
 * the limit, and a probe that found no gain only costs one window.
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
  /** `grow`: doubling while throughput rises; `hold`: found the level, probing now and then. */
  phase: 'grow' | 'hold';
  /**
   * The first window is not measured: it holds connection set-up and the first parts'
   * start, and would make the next window look like a gain that is not there.
   */
  warmup: boolean;
  /** Throughput (bytes/s) of the last window measured, 0 before the first. */
  lastRate: number;
  /** The held level a probe started from: where to go back to if the probe did not pay. */
  probeFrom: number | undefined;
  /** Windows measured since the level was last held or probed. */
  heldWindows: number;
  /** When the current limit took effect (ms): parts started before it are not measured. */
  levelSince: number;
  /** The current window: parts started at this level and finished, their bytes and durations. */
  windowBytes: number;
  windowParts: number;
  windowMs: number;
  minGain: number;
}

/** Windows held before probing one level up again. */
export const PROBE_AFTER_WINDOWS = 4;

export type ConcurrencyEvent =
  /** A part was stored; `startedAt` (when it was started, first attempt) and `now` in ms. */
  | { type: 'part-done'; bytes: number; startedAt: number; now: number }
  /** A part attempt failed (network error, stall, 5xx) and will be retried. */
  | { type: 'failure'; now: number };

/**
 * Parts in flight to start with on a link of this round-trip time, when a client can measure
 * it first (the CLI does, opening its connections): 8 from 50 ms up, else the default 4. On
 * the bench's 1 Gbit/s, 100 ms link starting at 8 took a 200 MiB upload from 0.61× to 0.64×
 * of the link (medians of 6 rounds; 16 was no better); at 20 ms it changed nothing, and a
 * nearby server keeps the smaller start.
 */
export function initialForRtt(rttMs: number | undefined): number | undefined {
  return rttMs !== undefined && rttMs >= 50 ? 8 : undefined;
}

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
    probeFrom: undefined,
    heldWindows: 0,
    levelSince: now,
    ...freshWindow(),
    minGain: options.minGain ?? 0.1,
  };
}

/** The next state after one event; `limit` is how many parts may be in flight from now on. */
export function nextConcurrency(state: ConcurrencyState, event: ConcurrencyEvent): ConcurrencyState {
  if (event.type === 'failure') {
    // Back off at once and measure afresh from here (the old window mixed both levels); grow
    // back while that pays, as a lost connection says little about the right level.
    const limit = Math.max(state.min, Math.floor(state.limit / 2));
    return {
      ...state,
      limit,
      phase: 'grow',
      lastRate: 0,
      probeFrom: undefined,
      heldWindows: 0,
      levelSince: event.now,
      ...freshWindow(),
    };
  }
  // A part started before the level changed ran beside a different number of others.
  if (event.startedAt < state.levelSince) return state;
  const s = {
    ...state,
    windowBytes: state.windowBytes + event.bytes,
    windowParts: state.windowParts + 1,
    windowMs: state.windowMs + Math.max(0, event.now - event.startedAt),
  };
  // A window is as many finished parts as there are in flight: every connection had its turn.
  if (s.windowParts < s.limit) return s;
  if (s.windowMs <= 0) return { ...s, ...freshWindow() };
  // Little's law: `limit` parts always in flight, each taking windowMs / windowParts.
  const rate = (s.limit * s.windowBytes * 1000) / s.windowMs;
  if (s.warmup) return { ...s, warmup: false, ...freshWindow() };
  const next = { ...s, lastRate: rate, ...freshWindow() };
  const changeTo = (limit: number) => (limit === s.limit ? {} : { limit, levelSince: event.now });
  if (s.phase === 'grow') {
    const rising = s.lastRate === 0 || rate > s.lastRate * (1 + s.minGain);
    const top = Math.min(s.max, s.plateau ?? s.max);
    if (rising && s.limit < top) {
      // A probe that paid: this level is the one to come back to if the next doubling does not.
      const probeFrom = s.probeFrom === undefined ? undefined : s.limit;
      return { ...next, probeFrom, ...changeTo(Math.min(top, s.limit * 2)) };
    }
    const held = { ...next, phase: 'hold' as const, probeFrom: undefined, heldWindows: 0 };
    if (rising) return { ...held, plateau: s.limit };
    // No gain from the last doubling: back to the level a probe started from, or, while
    // first growing, halfway to the level before it; hold there.
    const limit = s.probeFrom ?? Math.max(s.min, Math.ceil((s.limit * 3) / 4));
    return { ...held, ...changeTo(limit), plateau: limit };
  }
  // Holding. Probe one level up now and then: the decision to hold may have been made in a
  // window the server paused in, and the link may have changed since.
  const heldWindows = s.heldWindows + 1;
  if (heldWindows < PROBE_AFTER_WINDOWS || s.limit >= s.max) return { ...next, heldWindows };
  return {
    ...next,
    phase: 'grow',
    probeFrom: s.limit,
    plateau: undefined,
    heldWindows: 0,
    ...changeTo(Math.min(s.max, s.limit * 2)),
  };
}

function freshWindow(): Pick<ConcurrencyState, 'windowBytes' | 'windowParts' | 'windowMs'> {
  return { windowBytes: 0, windowParts: 0, windowMs: 0 };
}
