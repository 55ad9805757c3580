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

  it('counts bytes sent again after a failed attempt as speed, not as standing still', () => {
    const p = new ProgressTracker(100_000_000, 1000);
    p.update(0, 0, 0);
    p.update(0, 4_000_000, 1000); // 4 MB/s
    p.update(0, 0, 1100); // the attempt failed: its 4 MB vanish from the count
    p.idle();
    p.update(0, 0, 1200); // a new baseline after the short wait
    const resent = p.update(0, 2_000_000, 2200); // resending at 2 MB/s, still below what was shown
    expect(resent.uploadedBytes).toBe(4_000_000);
    expect(resent.speed).toBeGreaterThan(2_000_000);
    expect(resent.speed).toBeLessThan(4_000_000);
  });

  it('leaves the time spent waiting out an outage out of speed and ETA', () => {
    const p = new ProgressTracker(100_000_000, 1000);
    p.update(0, 0, 0);
    p.update(10_000_000, 0, 1000); // 10 MB/s
    p.idle(); // a request failed and waits
    // 40 minutes later the store is back and sends at the same rate as before.
    p.update(10_000_000, 0, 2_401_000);
    const after = p.update(11_000_000, 0, 2_401_100 + 100);
    expect(after.speed).toBeGreaterThan(9_000_000);
    expect(after.etaSeconds).toBeLessThan(10);
    // Without idle(), the same samples would have averaged the outage in.
    const naive = new ProgressTracker(100_000_000, 1000);
    naive.update(0, 0, 0);
    naive.update(10_000_000, 0, 1000);
    expect(naive.update(11_000_000, 0, 2_401_200).speed).toBeLessThan(1000);
  });
});
