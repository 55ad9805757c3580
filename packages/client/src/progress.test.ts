import { describe, expect, it } from 'vitest';
import { ProgressTracker } from './progress.js';

describe('ProgressTracker', () => {
  it('never goes backwards when an attempt fails and its in-flight bytes vanish', () => {
    const p = new ProgressTracker(100);
    expect(p.update(0, 40, 0).uploadedBytes).toBe(40);
    expect(p.update(0, 0, 100).uploadedBytes).toBe(40); // the attempt failed
    expect(p.update(0, 30, 200).uploadedBytes).toBe(40); // resent, still below the peak
    expect(p.update(50, 0, 300).uploadedBytes).toBe(50);
    expect(p.update(100, 0, 400)).toMatchObject({ uploadedBytes: 100, fraction: 1, etaSeconds: 0 });
  });

  it('smooths speed and derives an ETA', () => {
    const p = new ProgressTracker(10_000_000, 1000);
    p.update(0, 0, 0);
    let last = p.update(1_000_000, 0, 1000);
    expect(last.speed).toBeCloseTo(1_000_000, -3);
    expect(last.etaSeconds).toBeCloseTo(9, 0);
    // One slow second moves the average only part of the way.
    last = p.update(1_100_000, 0, 2000);
    expect(last.speed).toBeGreaterThan(100_000);
    expect(last.speed).toBeLessThan(1_000_000);
  });
});
