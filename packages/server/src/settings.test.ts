/**
 * The settings schema (settings.ts) against what people read and what the code reads: the
 * README's configuration table lists exactly its variables with their defaults, and every
 * variable the config modules read is in it. Plus the one parser's rules.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { readBoolean, readInteger, readList, readNumber, SETTING_FAMILIES, SETTINGS } from './settings.js';
import { loadWorkerConfig } from './worker/config.js';

const read = (relative: string) => readFileSync(new URL(relative, import.meta.url), 'utf8');

/** Rows of the README's configuration table: the variables named in the first cell, and the default cell. */
function readmeRows(): { names: string[]; defaults: string }[] {
  const readme = read('../../../README.md');
  const section = readme.slice(
    readme.indexOf('## Configuration'),
    readme.indexOf('\n## ', readme.indexOf('## Configuration') + 5),
  );
  return section
    .split('\n')
    .filter((line) => /^\| `/.test(line))
    .map((line) => {
      const cells = line.split('|').map((c) => c.trim());
      return { names: [...cells[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!), defaults: cells[2]! };
    });
}

describe('the settings schema', () => {
  it('is exactly the README configuration table', () => {
    const documented = readmeRows().flatMap((row) => row.names);
    const known = [...Object.keys(SETTINGS), ...SETTING_FAMILIES.map((f) => f.readme)];
    expect([...documented].sort()).toEqual([...new Set(known)].sort());
  });

  it('gives each setting the default the README states', () => {
    for (const row of readmeRows()) {
      for (const name of row.names) {
        const schema = (SETTINGS as Record<string, { default?: unknown }>)[name];
        if (schema?.default === undefined || typeof schema.default === 'boolean') continue;
        expect(row.defaults, `README default of ${name}`).toContain(`\`${String(schema.default)}\``);
      }
    }
  });

  it('holds every variable the config modules read', () => {
    const sources = ['./config.ts', './worker/config.ts', './auth/config.ts'].map(read).join('\n');
    const named = new Set<string>();
    for (const m of sources.matchAll(/env\.([A-Z][A-Z0-9_]+)|'([A-Z][A-Z0-9]*_[A-Z0-9_]+)'/g)) named.add(m[1] ?? m[2]!);
    const missing = [...named].filter((name) => !(name in SETTINGS));
    expect(missing).toEqual([]);
  });
});

describe('the one parser', () => {
  it('reads whole numbers within bounds, else names the variable', () => {
    expect(readInteger({}, 'PORT')).toBe(8000);
    expect(readInteger({ PORT: ' 8080 ' }, 'PORT')).toBe(8080);
    expect(() => readInteger({ PORT: '80.5' }, 'PORT')).toThrow('PORT: expected a whole number, got "80.5"');
    expect(() => readInteger({ PORT: '70000' }, 'PORT')).toThrow('PORT: must be between 0 and 65535, got 70000');
  });

  it('reads positive numbers with fractions, else names the variable', () => {
    expect(readNumber({}, 'WORKER_POLL_SECONDS')).toBe(2);
    expect(readNumber({ WORKER_POLL_SECONDS: '0.2' }, 'WORKER_POLL_SECONDS')).toBe(0.2);
    for (const bad of ['0', '-1', 'soon', '601']) {
      expect(() => readNumber({ WORKER_POLL_SECONDS: bad }, 'WORKER_POLL_SECONDS')).toThrow(ConfigError);
    }
  });

  it('reads booleans the same way everywhere, and refuses anything else', () => {
    for (const yes of ['true', 'TRUE', '1', 'yes', 'on'])
      expect(readBoolean({ S3_FORCE_PATH_STYLE: yes }, 'S3_FORCE_PATH_STYLE')).toBe(true);
    for (const no of ['false', '0', 'No', 'off'])
      expect(readBoolean({ WORKER_KEEP_DIRS: no }, 'WORKER_KEEP_DIRS')).toBe(false);
    expect(readBoolean({}, 'WORKER_KEEP_DIRS')).toBe(false);
    expect(() => readBoolean({ WORKER_KEEP_DIRS: 'maybe' }, 'WORKER_KEEP_DIRS')).toThrow(
      'WORKER_KEEP_DIRS: expected true or false, got "maybe"',
    );
    expect(loadWorkerConfig({ WORKER_KEEP_DIRS: 'yes' }, '/tmp').keepWorkDirs).toBe(true);
    expect(() => loadWorkerConfig({ WORKER_KEEP_DIRS: 'sometimes' }, '/tmp')).toThrow('WORKER_KEEP_DIRS');
  });

  it('reads lists, with the default when unset', () => {
    expect(readList({}, 'SPEOS_VERSIONS')).toEqual(['v252', 'v251', 'v242', 'v241', 'v232']);
    expect(readList({ SPEOS_VERSIONS: ' v252 , v241 ,' }, 'SPEOS_VERSIONS')).toEqual(['v252', 'v241']);
    expect(readList({}, 'AUTH_TOKENS')).toEqual([]);
    expect(() => readList({ SPEOS_VERSIONS: ' , ' }, 'SPEOS_VERSIONS')).toThrow(
      'SPEOS_VERSIONS: must list at least one value',
    );
  });
});
