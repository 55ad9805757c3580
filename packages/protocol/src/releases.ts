/**
 * Ansys names a release by year and half (`2025R2`); SPEOS installs and this portal's
 * SPEOS_VERSIONS name it by its short version (`v252`). The original portal's frontend
 * sends the former as `ansys_release`; the two map one to one, both ways.
 */

const RELEASE = /^(20\d\d)\s*R([1-9])$/i;
const VERSION = /^v(\d\d)([1-9])$/i;

/**
 * The version of a release name, or undefined when the text is not one.
 * @example releaseToVersion('2025R2') // 'v252'
 * @example releaseToVersion('2026 r1') // 'v261'
 */
export function releaseToVersion(release: string): string | undefined {
  const match = RELEASE.exec(release.trim());
  return match ? `v${match[1]!.slice(2)}${match[2]}` : undefined;
}

/**
 * The release name of a version, or undefined for a version outside the `vYYN` scheme.
 * @example versionToRelease('v252') // '2025R2'
 */
export function versionToRelease(version: string): string | undefined {
  const match = VERSION.exec(version.trim());
  return match ? `20${match[1]}R${match[2]}` : undefined;
}
