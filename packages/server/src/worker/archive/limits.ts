/**
 * How far one archive may expand. Both limits are settings (EXTRACT_MAX_RATIO,
 * EXTRACT_MAX_ENTRIES); a zip bomb meets them long before the disk fills, and the task
 * ends as FAILURE with a message that names the limit.
 */
export interface ExtractSettings {
  /** Extracted bytes may reach this many times the archive's own size (EXTRACT_MAX_RATIO). */
  maxRatio: number;
  /** Files, folders and links per archive (EXTRACT_MAX_ENTRIES). */
  maxEntries: number;
  /** `auto`, or an encoding for zip names stored without the UTF-8 flag (ZIP_FILENAME_ENCODING). */
  zipFilenameEncoding: string;
}

export const DEFAULT_EXTRACT_SETTINGS: ExtractSettings = {
  maxRatio: 20,
  maxEntries: 100_000,
  zipFilenameEncoding: 'auto',
};

/** A small archive may always expand this far, so a tiny zip of text is never refused. */
export const MIN_EXTRACT_BYTES = 64 * 1024 * 1024;

export interface Budget {
  maxBytes: number;
  maxEntries: number;
  /** How the byte limit came about, for the failure message. */
  bytesRule: string;
}

export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

export function budgetFor(archiveSize: number, settings: ExtractSettings): Budget {
  const byRatio = archiveSize * settings.maxRatio;
  return {
    maxBytes: Math.max(byRatio, MIN_EXTRACT_BYTES),
    maxEntries: settings.maxEntries,
    bytesRule:
      byRatio >= MIN_EXTRACT_BYTES
        ? `EXTRACT_MAX_RATIO=${settings.maxRatio} × the archive's ${formatBytes(archiveSize)}`
        : `the floor of ${formatBytes(MIN_EXTRACT_BYTES)} for small archives; EXTRACT_MAX_RATIO=${settings.maxRatio}`,
  };
}
