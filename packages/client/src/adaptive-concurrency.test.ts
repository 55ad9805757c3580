import { describe, expect, it } from 'vitest';
import { type ConcurrencyState, initialConcurrency, nextConcurrency } from './adaptive-concurrency.js';

const MiB = 1024 * 1024;
const PART = 5 * MiB;

/**
 * Drives the controller over a modelled link: each part takes `rtt` plus its share of the
 * link (`rate` bytes/s shared by `limit` parts) — the pipe a real upload sees, as numbers.
 */
function simulate(start: ConcurrencyState, rttMs: number, rateBytesPerS: number, parts: number) {
  let state = start;
  let now = 0;
  const limits = [state.limit];
  for (let i = 0; i < parts; i++) {
    const perPartMs = rttMs / state.limit + (PART / rateBytesPerS) * 1000;
    now += perPartMs;
    state = nextConcurrency(state, { type: 'part-done', bytes: PART, now });
    limits.push(state.limit);
  }
  return { state, limits };
}

/** The modelled throughput at a level: a part per (transfer + rtt/limit). */
const modelRate = (limit: number, rttMs: number, rate: number) =>
  PART / ((rttMs / limit + (PART / rate) * 1000) / 1000);

describe('adaptive concurrency', () => {
  it('starts at a few parts, within min and max', () => {
    expect(initialConcurrency(PART, 0).limit).toBe(4);
    expect(initialConcurrency(PART, 0, { initial: 1, min: 2 }).limit).toBe(2);
    expect(initialConcurrency(PART, 0, { initial: 10, max: 6 }).limit).toBe(6);
  });

  it('caps parts in flight by the memory cap', () => {
    const s = initialConcurrency(64 * MiB, 0, { maxInFlightBytes: 256 * MiB });
    expect(s.max).toBe(4);
    expect(initialConcurrency(PART, 0).max).toBe(32); // 256 MiB / 5 MiB = 51, above the default max
    expect(initialConcurrency(1024 * MiB, 0).max).toBe(2); // never below min
  });

  it('grows on a long fat link (1 Gbit/s, 100 ms) far beyond the start', () => {
    const link = 125e6;
    const { state } = simulate(initialConcurrency(PART, 0), 100, link, 400);
    expect(state.limit).toBeGreaterThanOrEqual(16);
    expect(modelRate(state.limit, 100, link) / link).toBeGreaterThan(0.85);
  });

  it('does not grow where more parts do not pay (fast link, no latency)', () => {
    const { state } = simulate(initialConcurrency(PART, 0), 0.1, 125e6, 200);
    expect(state.phase).toBe('hold');
    expect(state.limit).toBeLessThanOrEqual(8);
  });

  it('never exceeds max', () => {
    const { limits } = simulate(initialConcurrency(PART, 0, { max: 6 }), 200, 125e6, 300);
    expect(Math.max(...limits)).toBe(6);
  });

  it('halves after a failure, not below min, and grows back only up to the plateau', () => {
    let s = simulate(initialConcurrency(PART, 0), 100, 125e6, 400).state;
    const plateau = s.limit;
    s = nextConcurrency(s, { type: 'failure', now: 1e6 });
    expect(s.limit).toBe(Math.max(2, Math.floor(plateau / 2)));
    let low = s;
    for (let i = 0; i < 10; i++) low = nextConcurrency(low, { type: 'failure', now: 1e6 });
    expect(low.limit).toBe(2);
    const { limits } = simulate({ ...s, windowStart: 1e6 }, 100, 125e6, 400);
    expect(Math.max(...limits)).toBeLessThanOrEqual(plateau);
    expect(limits.at(-1)).toBeGreaterThan(s.limit);
  });

  it('steps down while holding when throughput falls well below the best', () => {
    let s: ConcurrencyState = {
      ...initialConcurrency(PART, 0),
      phase: 'hold',
      warmup: false,
      limit: 8,
      bestRate: 100 * MiB,
    };
    // 8 parts of 5 MiB in 1 s = 40 MiB/s, far below 100 MiB/s.
    for (let i = 1; i <= 8; i++) s = nextConcurrency(s, { type: 'part-done', bytes: PART, now: i * 125 });
    expect(s.limit).toBe(7);
    expect(s.bestRate).toBeCloseTo(40 * MiB, -3);
  });

  it('decides nothing until a window (as many parts as are in flight) is complete, and skips the first', () => {
    let s = initialConcurrency(PART, 0);
    for (let i = 1; i < 4; i++) {
      s = nextConcurrency(s, { type: 'part-done', bytes: PART, now: i });
      expect(s.limit).toBe(4);
      expect(s.windowParts).toBe(i);
    }
    s = nextConcurrency(s, { type: 'part-done', bytes: PART, now: 4 });
    expect(s).toMatchObject({ limit: 4, warmup: false, windowParts: 0, lastRate: 0 }); // the warm-up window
    for (let i = 5; i <= 8; i++) s = nextConcurrency(s, { type: 'part-done', bytes: PART, now: i });
    expect(s.limit).toBe(8); // the first measured window counts as rising
    expect(s.windowParts).toBe(0);
  });

  it('is not fooled by a slow start: no growth when the level after it is no faster', () => {
    let s = initialConcurrency(PART, 0);
    // Warm-up window: 4 parts in 4 s (connections opening). Then 100 ms per part at any level.
    for (let i = 0; i < 4; i++) s = nextConcurrency(s, { type: 'part-done', bytes: PART, now: 4000 });
    for (let i = 1; i <= 4; i++) s = nextConcurrency(s, { type: 'part-done', bytes: PART, now: 4000 + i * 100 });
    expect(s.limit).toBe(8); // probing one level up
    for (let i = 1; i <= 8; i++) s = nextConcurrency(s, { type: 'part-done', bytes: PART, now: 4400 + i * 100 });
    expect(s).toMatchObject({ phase: 'hold', limit: 6 });
  });

  it('ignores a window with no elapsed time instead of dividing by zero', () => {
    let s = { ...initialConcurrency(PART, 5, { initial: 2 }), warmup: false };
    s = nextConcurrency(s, { type: 'part-done', bytes: PART, now: 5 });
    s = nextConcurrency(s, { type: 'part-done', bytes: PART, now: 5 });
    expect(s.limit).toBe(2);
    expect(Number.isFinite(s.lastRate)).toBe(true);
  });
});
