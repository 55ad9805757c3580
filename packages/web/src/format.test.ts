import { describe, expect, it } from 'vitest';
import { formatBytes } from './format.js';

describe('formatBytes', () => {
  it('labels binary multiples with binary units, as the CLI and the configuration do', () => {
    expect(formatBytes(150_000_000)).toBe('143 MiB');
    expect(formatBytes(500 * 1024 * 1024)).toBe('500 MiB');
    expect(formatBytes(5 * 1024 * 1024)).toBe('5.0 MiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3.0 GiB');
  });
});
