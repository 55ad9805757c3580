/**
 * `@speos-portal/protocol/constants` must stay free of TypeBox (browsers import it), and
 * the package root must keep exporting everything both entry points have.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as root from './index.js';

/** Every module specifier reachable from `file` by static imports inside this package. */
function importClosure(file: string, seen = new Set<string>()): Set<string> {
  const source = readFileSync(new URL(file, import.meta.url), 'utf8');
  for (const m of source.matchAll(/(?:import|export)\s[^'"]*?from\s*'([^']+)'/g)) {
    const spec = m[1]!;
    if (seen.has(spec)) continue;
    seen.add(spec);
    if (spec.startsWith('./')) importClosure(spec.replace(/\.js$/, '.ts'), seen);
  }
  return seen;
}

describe('protocol entry points', () => {
  it('constants import nothing outside the package (no TypeBox)', () => {
    const outside = [...importClosure('./constants.ts')].filter((spec) => !spec.startsWith('./'));
    expect(outside).toEqual([]);
  });

  it('the root still exports the constants and the schemas', async () => {
    const constants = await import('./constants.js');
    const schemas = await import('./schemas.js');
    for (const name of [...Object.keys(constants), ...Object.keys(schemas)]) expect(root).toHaveProperty(name);
    expect(constants.TASK_STATUSES).toContain('EXPIRED');
    expect(schemas.TaskStatus.anyOf.map((s: { const: string }) => s.const)).toEqual([...constants.TASK_STATUSES]);
  });

  it('declares every entry point in package.json, side-effect free', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    expect(pkg.sideEffects).toBe(false);
    expect(Object.keys(pkg.exports)).toEqual(['.', './constants', './schemas', './auth']);
  });
});
