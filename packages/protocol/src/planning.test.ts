import { describe, expect, it } from 'vitest';
import { chooseChunkSize, MAX_PARTS, MIB, normalizeEtag, partCount, partRange, planParts } from './planning.js';

describe('part planning', () => {
  it('covers the file exactly with 1-based parts, only the last one smaller', () => {
    const parts = planParts(12 * MIB + 7, 5 * MIB);
    expect(parts.map((p) => p.partNumber)).toEqual([1, 2, 3]);
    expect(parts[0]).toEqual({ partNumber: 1, startByte: 0, endByte: 5 * MIB, size: 5 * MIB });
    expect(parts[2]).toEqual({ partNumber: 3, startByte: 10 * MIB, endByte: 12 * MIB + 7, size: 2 * MIB + 7 });
    expect(parts.reduce((sum, p) => sum + p.size, 0)).toBe(12 * MIB + 7);
  });

  it("gives the original frontend's example 100 parts of 5 MiB for 500 MiB", () => {
    expect(partCount(524288000, 5242880)).toBe(100);
    expect(partRange(524288000, 5242880, 100).endByte).toBe(524288000);
  });

  it('grows the chunk size so huge files stay within 10 000 parts', () => {
    expect(chooseChunkSize(100 * MIB)).toBe(5 * MIB);
    const size = 200 * 1024 * MIB;
    expect(partCount(size, chooseChunkSize(size))).toBeLessThanOrEqual(MAX_PARTS);
  });

  it('normalises quoted, weak and upper-case ETags', () => {
    expect(normalizeEtag('"ABC123"')).toBe('abc123');
    expect(normalizeEtag('W/"abc123"')).toBe('abc123');
    expect(normalizeEtag('abc123')).toBe('abc123');
  });
});
