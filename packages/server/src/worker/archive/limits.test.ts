import { describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../config.js';
import { budgetFor, DEFAULT_EXTRACT_SETTINGS, MIN_EXTRACT_BYTES } from './limits.js';

describe('extraction settings', () => {
  it('defaults to 20× the archive size (at least 64 MiB), 100,000 entries and detected zip names', () => {
    expect(loadWorkerConfig({}, '/data').extract).toEqual({
      maxRatio: 20,
      maxEntries: 100_000,
      zipFilenameEncoding: 'auto',
    });
    expect(budgetFor(500 * 1024 * 1024, DEFAULT_EXTRACT_SETTINGS).maxBytes).toBe(10_000 * 1024 * 1024);
    expect(budgetFor(1000, DEFAULT_EXTRACT_SETTINGS).maxBytes).toBe(MIN_EXTRACT_BYTES);
  });

  it('reads EXTRACT_MAX_RATIO, EXTRACT_MAX_ENTRIES and ZIP_FILENAME_ENCODING', () => {
    const env = { EXTRACT_MAX_RATIO: '50', EXTRACT_MAX_ENTRIES: '2000', ZIP_FILENAME_ENCODING: 'GBK' };
    expect(loadWorkerConfig(env, '/data').extract).toEqual({
      maxRatio: 50,
      maxEntries: 2000,
      zipFilenameEncoding: 'gbk',
    });
  });

  it.each([
    [{ EXTRACT_MAX_RATIO: '0' }, 'EXTRACT_MAX_RATIO'],
    [{ EXTRACT_MAX_RATIO: 'lots' }, 'EXTRACT_MAX_RATIO'],
    [{ EXTRACT_MAX_ENTRIES: '-5' }, 'EXTRACT_MAX_ENTRIES'],
    [{ ZIP_FILENAME_ENCODING: 'klingon' }, 'ZIP_FILENAME_ENCODING'],
  ])('refuses %j at start, naming the variable', (env, name) => {
    expect(() => loadWorkerConfig(env, '/data')).toThrow(name);
  });
});
