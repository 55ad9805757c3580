import { describe, expect, it } from 'vitest';
import {
  type ConcurrencyState,
  initialConcurrency,
  initialForRtt,
  nextConcurrency,
  PROBE_AFTER_WINDOWS,
} from './adaptive-concurrency.js';

const MiB = 1024 * 1024;
const PART = 5 * MiB;

/**
 * Drives the controller over a modelled link, in 1 ms steps: the link's rate is shared
 * equally by the parts still sending; a part's first byte arrives rtt/2 after it starts and
 * its answer rtt/2 after its last byte. `stalls` adds server pauses (an fsync, a GC): now and
 * then no answer goes out for up to `stallMs`, so answers leave in bursts, as on a real server.
 */
function simulate(start: ConcurrencyState, rttMs: number, rate: number, parts: number, stallMs = 0, seed = 1) {
  let state = start;
  let t = state.levelSince;
  let x = seed;
  const random = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  const active: { left: number; startedAt: number; answerAt?: number }[] = [];
  const limits = [state.limit];
  const phases = [state.phase];
  let launched = 0;
  let done = 0;
  let stallUntil = 0;
  const launch = () => {
    for (; launched < parts && active.length < state.limit; launched++) active.push({ left: PART, startedAt: t });
  };
  launch();
  while (done < parts) {
    t += 1;
    if (stallMs && t >= stallUntil && random() < 0.002) stallUntil = t + random() * stallMs;
    const sending = active.filter((p) => p.left > 0 && t >= p.startedAt + rttMs / 2);
    for (const p of sending) {
      p.left -= rate / 1000 / sending.length;
      if (p.left <= 0) p.answerAt = t + rttMs / 2;
    }
    for (let i = active.length - 1; i >= 0; i--) {
      const p = active[i]!;
      if (p.answerAt === undefined || p.answerAt > t || t < stallUntil) continue;
      active.splice(i, 1);
      done++;
      state = nextConcurrency(state, { type: 'part-done', bytes: PART, startedAt: p.startedAt, now: t });
      limits.push(state.limit);
      phases.push(state.phase);
    }
    launch();
  }
  return { state, limits, phases, ofLink: (parts * PART) / rate / ((t - start.levelSince) / 1000) };
}

/** The modelled throughput at a level: `limit` parts per (their shared transfer + one rtt). */
const modelRate = (limit: number, rttMs: number, rate: number) =>
  (limit * PART) / ((limit * PART) / rate + rttMs / 1000);

/** A controller past its warm-up, holding `limit` as the level that paid. */
const heldAt = (limit: number): ConcurrencyState => ({
  ...initialConcurrency(PART, 0),
  warmup: false,
  phase: 'hold',
  limit,
  plateau: limit,
});

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
    const plateau = s.plateau!;
    expect(plateau).toBeGreaterThanOrEqual(16);
    s = nextConcurrency({ ...s, limit: plateau }, { type: 'failure', now: 1e6 });
    expect(s.limit).toBe(Math.max(2, Math.floor(plateau / 2)));
    let low = s;
    for (let i = 0; i < 10; i++) low = nextConcurrency(low, { type: 'failure', now: 1e6 });
    expect(low.limit).toBe(2);
    const { limits, phases } = simulate(s, 100, 125e6, 400);
    const heldAt = phases.indexOf('hold');
    // Grew back, and no higher than the plateau until a probe.
    expect(Math.max(...limits.slice(0, heldAt + 1))).toBe(plateau);
    expect(limits[heldAt]).toBeGreaterThan(s.limit);
  });

  it('probes one level up after holding a while, and goes back when it does not pay', () => {
    // A full link without latency: 8 parts or 16, the throughput is the same.
    const { limits } = simulate(heldAt(8), 0.1, 125e6, 8 * PROBE_AFTER_WINDOWS * 3);
    expect(new Set(limits)).toEqual(new Set([8, 16])); // probed, came back to 8, not 12
    expect(limits.at(-1)).toBe(8);
  });

  it('keeps a probe that pays, and comes back to the last level that paid', () => {
    // 1 Gbit/s, 100 ms: 4 is far too few. Held at 4, the probes climb.
    const { state, limits } = simulate(heldAt(4), 100, 125e6, 300);
    expect(Math.max(...limits)).toBeGreaterThanOrEqual(16);
    expect(state.limit).toBeGreaterThanOrEqual(16);
    // 32 gains under 10 % over 16 here: each probe to 32 comes back to 16, not to 24.
    expect(new Set(limits.slice(limits.indexOf(32)))).toEqual(new Set([16, 32]));
  });

  it('holds its level through bursty answers (server pauses) on a long fat link', () => {
    // Answers held back by pauses leave together. Counting bytes per window of wall time saw
    // such bursts as fast windows and the gaps after them as slow ones, and stepped the limit
    // down from 8 to 3 on a 1 Gbit/s, 100 ms link; parts' own durations do not change.
    for (let seed = 1; seed <= 20; seed++) {
      const { limits, ofLink } = simulate(initialConcurrency(PART, 0), 100, 125e6, 205, 400, seed);
      const settled = limits.slice(100);
      expect(Math.min(...settled), `seed ${seed}: ${[...new Set(limits)]}`).toBeGreaterThanOrEqual(12);
      expect(ofLink).toBeGreaterThan(0.7);
    }
  });

  it('decides nothing until a window (as many parts as are in flight) is complete, and skips the first', () => {
    let s = initialConcurrency(PART, 0);
    for (let i = 1; i < 4; i++) {
      s = nextConcurrency(s, { type: 'part-done', bytes: PART, startedAt: 0, now: i });
      expect(s.limit).toBe(4);
      expect(s.windowParts).toBe(i);
    }
    s = nextConcurrency(s, { type: 'part-done', bytes: PART, startedAt: 0, now: 4 });
    expect(s).toMatchObject({ limit: 4, warmup: false, windowParts: 0, lastRate: 0 }); // the warm-up window
    for (let i = 5; i <= 8; i++) s = nextConcurrency(s, { type: 'part-done', bytes: PART, startedAt: 4, now: i });
    expect(s.limit).toBe(8); // the first measured window counts as rising
    expect(s).toMatchObject({ windowParts: 0, levelSince: 8 });
  });

  it('measures a level only by the parts started at it', () => {
    let s: ConcurrencyState = { ...initialConcurrency(PART, 0), warmup: false, limit: 8, levelSince: 1000 };
    // Parts started before the level took effect ran beside fewer others: not counted.
    for (let i = 0; i < 8; i++) s = nextConcurrency(s, { type: 'part-done', bytes: PART, startedAt: 900, now: 1001 });
    expect(s).toMatchObject({ windowParts: 0, limit: 8 });
    for (let i = 0; i < 8; i++) s = nextConcurrency(s, { type: 'part-done', bytes: PART, startedAt: 1000, now: 1500 });
    expect(s.lastRate).toBeCloseTo((8 * PART * 1000) / 500, 0); // 8 parts of 500 ms each in flight
  });

  it('is not fooled by a slow start: no growth when the level after it is no faster', () => {
    let s = initialConcurrency(PART, 0);
    // Warm-up window: 4 parts taking 4 s (connections opening). Then every part takes 400 ms
    // at 4 in flight and 800 ms at 8: the link is full, more parts only share it.
    for (let i = 0; i < 4; i++) s = nextConcurrency(s, { type: 'part-done', bytes: PART, startedAt: 0, now: 4000 });
    for (let i = 0; i < 4; i++) s = nextConcurrency(s, { type: 'part-done', bytes: PART, startedAt: 4000, now: 4400 });
    expect(s.limit).toBe(8); // probing one level up
    for (let i = 0; i < 8; i++) s = nextConcurrency(s, { type: 'part-done', bytes: PART, startedAt: 4400, now: 5200 });
    expect(s).toMatchObject({ phase: 'hold', limit: 6 });
  });

  it('ignores a window with no elapsed time instead of dividing by zero', () => {
    let s = { ...initialConcurrency(PART, 5, { initial: 2 }), warmup: false };
    s = nextConcurrency(s, { type: 'part-done', bytes: PART, startedAt: 5, now: 5 });
    s = nextConcurrency(s, { type: 'part-done', bytes: PART, startedAt: 5, now: 5 });
    expect(s.limit).toBe(2);
    expect(Number.isFinite(s.lastRate)).toBe(true);
  });
});

describe('the first level from a measured round trip', () => {
  it('starts at 8 from 50 ms up, and at the default elsewhere', () => {
    expect(initialForRtt(undefined)).toBeUndefined();
    expect(initialForRtt(1)).toBeUndefined();
    expect(initialForRtt(49)).toBeUndefined();
    expect(initialForRtt(50)).toBe(8);
    expect(initialForRtt(300)).toBe(8);
    expect(initialConcurrency(PART, 0, { initial: initialForRtt(100) }).limit).toBe(8);
    expect(initialConcurrency(PART, 0, { initial: initialForRtt(20) }).limit).toBe(4);
  });
});
