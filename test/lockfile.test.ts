/**
 * The committed package-lock.json must hold every platform binary its packages pin as optional
 * dependencies, or `npm ci` refuses it on machines that can see them (this registry hides some:
 * scripts/complete-lockfile.mjs). A forgotten run after `npm install` fails here, not in CI's npm ci.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { LOCK_FILE, missingPlatformEntries } from '../scripts/complete-lockfile.mjs';

describe('package-lock.json', () => {
  it('lists every pinned optional platform binary (else: node scripts/complete-lockfile.mjs)', () => {
    const lock = JSON.parse(readFileSync(LOCK_FILE, 'utf8'));
    expect(Object.keys(missingPlatformEntries(lock))).toEqual([]);
  });

  it('finds an entry that is left out', () => {
    const lock = JSON.parse(readFileSync(LOCK_FILE, 'utf8'));
    const [where] = Object.entries(lock.packages as Record<string, { optionalDependencies?: object }>).find(
      ([, entry]) => Object.keys(entry.optionalDependencies ?? {}).some((name) => /linux-x64/.test(name)),
    ) ?? [undefined];
    expect(where, 'a package with a linux-x64 optional binary (esbuild, biome, rollup…)').toBeDefined();
    const name = Object.keys(lock.packages[where!].optionalDependencies).find((n) => /linux-x64/.test(n))!;
    delete lock.packages[`node_modules/${name}`];
    delete lock.packages[`${where === '' ? 'node_modules' : `${where}/node_modules`}/${name}`];
    expect(Object.keys(missingPlatformEntries(lock))).toContain(`node_modules/${name}`);
  });
});
