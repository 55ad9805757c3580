import { describe, expect, it } from 'vitest';
import { releaseToVersion, versionToRelease } from './releases.js';

describe('Ansys release names and SPEOS versions', () => {
  it('maps a release to its version', () => {
    expect(releaseToVersion('2025R2')).toBe('v252');
    expect(releaseToVersion('2026R1')).toBe('v261');
    expect(releaseToVersion('2023R2')).toBe('v232');
    expect(releaseToVersion(' 2024 r1 ')).toBe('v241');
  });

  it('maps a version back to its release', () => {
    expect(versionToRelease('v252')).toBe('2025R2');
    expect(versionToRelease('V261')).toBe('2026R1');
  });

  it('round-trips every release of the scheme', () => {
    for (let year = 2020; year <= 2099; year++) {
      for (const half of [1, 2]) {
        const release = `${year}R${half}`;
        expect(versionToRelease(releaseToVersion(release)!)).toBe(release);
      }
    }
  });

  it('knows nothing of names outside the scheme', () => {
    for (const text of ['', 'R2', '25R2', '2025', '2025R0', '2025R10', '1999R1', 'latest']) {
      expect(releaseToVersion(text), text).toBeUndefined();
    }
    for (const text of ['', 'v25', 'v2520', 'v250', 'speos-beta', '252']) {
      expect(versionToRelease(text), text).toBeUndefined();
    }
  });
});
