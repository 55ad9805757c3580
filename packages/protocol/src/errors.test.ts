import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiError, ERROR_CODES, ERRORS } from './errors.js';

const doc = (name: string) => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');

describe('the error table', () => {
  it.each(['api.md', 'api.zh-CN.md'])('is documented in %s with the same statuses', (name) => {
    const text = doc(name);
    for (const code of ERROR_CODES) {
      expect(text, code).toMatch(new RegExp(`\\|\\s*${ERRORS[code].status}\\s*\\|\\s*\`${code}\`\\s*\\|`));
    }
  });

  it('gives each error its status', () => {
    const error = new ApiError('URL_EXPIRED', 'expired');
    expect(error.status).toBe(403);
    expect(error.code).toBe('URL_EXPIRED');
  });
});
