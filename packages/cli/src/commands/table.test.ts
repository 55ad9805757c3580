import stringWidth from 'string-width';
import { describe, expect, it } from 'vitest';
import { formatTable } from './table.js';

describe('formatTable', () => {
  it('lines up columns after Chinese names by display width', () => {
    const lines = formatTable([
      ['JOB', 'SUBMITTER', 'CREATED'],
      ['车灯近光', '张三', '2026-12-02'],
      ['headlamp', 'alice', '2026-12-01'],
    ]);
    // The third column starts at the same terminal column on every line.
    const starts = lines.map((line) => stringWidth(line.slice(0, line.search(/CREATED|2026/))));
    expect(new Set(starts).size).toBe(1);
    expect(lines[1]).toBe('车灯近光  张三       2026-12-02');
  });
});
