import { ProgressTracker } from '@speos-portal/client';
import { describe, expect, it } from 'vitest';
import { ProgressBar } from './progress-bar.js';

const MIB = 1024 * 1024;

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { out: { isTTY, columns: 100, write: (t: string) => chunks.push(t) }, chunks };
}

describe('ProgressBar', () => {
  it('prints one plain line per 10 % when not on a TTY', () => {
    const { out, chunks } = sink(false);
    const bar = new ProgressBar(out, 'model.speos');
    const tracker = new ProgressTracker(100 * MIB);
    for (let i = 0; i <= 100; i++) bar.update(tracker.update(i * MIB, 0, i * 100), i * 100);
    bar.finish();
    expect(chunks).toHaveLength(11);
    expect(chunks.every((c) => c.endsWith('\n') && !c.includes('\r'))).toBe(true);
    expect(chunks[5]).toMatch(/^model\.speos 50\.0% 50\.0 MiB\/100\.0 MiB 10\.0 MiB\/s ETA 0:05\n$/);
  });

  it('redraws one line on a TTY with bar, percent, bytes, speed and ETA', () => {
    const { out, chunks } = sink(true);
    const bar = new ProgressBar(out, 'model.speos');
    const tracker = new ProgressTracker(100 * MIB);
    bar.update(tracker.update(0, 0, 0), 0);
    bar.update(tracker.update(0, 25 * MIB, 1000), 1000);
    bar.update(tracker.update(0, 26 * MIB, 1050), 1050); // within 100 ms: not redrawn
    bar.finish();
    expect(chunks).toHaveLength(3); // first draw, the 25 % draw, finish
    const ERASE_LINE = '\x1b[K';
    expect(chunks[1]!.startsWith('\r')).toBe(true);
    expect(chunks[1]!.endsWith(ERASE_LINE)).toBe(true);
    expect(chunks[1]!.slice(1, -ERASE_LINE.length)).toMatch(
      /^model\.speos \[#+-+\] +25\.0% 25\.0 MiB\/100\.0 MiB 25\.0 MiB\/s ETA 0:03$/,
    );
    expect(chunks[2]!.endsWith('\n')).toBe(true);
  });

  it('says what it waits for instead of speed and ETA, and prints notes above the bar', () => {
    const { out, chunks } = sink(true);
    const bar = new ProgressBar(out, 'model.speos');
    const tracker = new ProgressTracker(100 * MIB);
    bar.update(tracker.update(0, 0, 0), 0);
    bar.update(tracker.update(0, 25 * MIB, 1000), 1000);
    chunks.length = 0;
    bar.waiting('waiting for the storage');
    bar.note('waiting for the storage at http://s3:9000 (ECONNREFUSED); …');
    const ERASE_LINE = '\x1b[K';
    expect(chunks[0]!.endsWith(`25.0 MiB/100.0 MiB waiting for the storage…${ERASE_LINE}`)).toBe(true);
    expect(chunks[0]).not.toContain('ETA');
    expect(chunks[1]).toBe(`\r${ERASE_LINE}waiting for the storage at http://s3:9000 (ECONNREFUSED); …\n`);
    expect(chunks[2]!.startsWith('model.speos [')).toBe(true);
    expect(chunks[2]!.endsWith(`waiting for the storage…${ERASE_LINE}`)).toBe(true);
    bar.waiting(undefined);
    expect(chunks.at(-1)!.endsWith(`25.0 MiB/s ETA 0:03${ERASE_LINE}`)).toBe(true);
  });
});
