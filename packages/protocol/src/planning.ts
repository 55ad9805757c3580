/** Part-planning math shared by server and clients. Pure functions, no I/O. */

export const MIB = 1024 * 1024;
/** S3's floor for every part but the last. */
export const MIN_CHUNK_SIZE = 5 * MIB;
/** S3's ceiling for one part. */
export const MAX_CHUNK_SIZE = 5 * 1024 * MIB;
/** S3's ceiling for the number of parts of one upload. */
export const MAX_PARTS = 10_000;
export const DEFAULT_CHUNK_SIZE = 5 * MIB;
export const DEFAULT_MAX_FILE_SIZE = 500 * MIB;

export interface PartRange {
  /** 1-based, as in S3. */
  partNumber: number;
  /** Inclusive. */
  startByte: number;
  /** Exclusive: `file.slice(startByte, endByte)`. */
  endByte: number;
  size: number;
}

/** Number of parts for a file: `ceil(fileSize / chunkSize)`. */
export function partCount(fileSize: number, chunkSize: number): number {
  return Math.ceil(fileSize / chunkSize);
}

/**
 * The byte range of one part. Only the last part may be smaller than `chunkSize`.
 * @example partRange(12 * MIB, 5 * MIB, 3) // { partNumber: 3, startByte: 10485760, endByte: 12582912, size: 2097152 }
 */
export function partRange(fileSize: number, chunkSize: number, partNumber: number): PartRange {
  const startByte = (partNumber - 1) * chunkSize;
  const endByte = Math.min(startByte + chunkSize, fileSize);
  return { partNumber, startByte, endByte, size: endByte - startByte };
}

/** Every part of a file, in order. */
export function planParts(fileSize: number, chunkSize: number): PartRange[] {
  const count = partCount(fileSize, chunkSize);
  return Array.from({ length: count }, (_, i) => partRange(fileSize, chunkSize, i + 1));
}

/**
 * The smallest chunk size (a multiple of 1 MiB, at least `preferred`) that keeps a file
 * within MAX_PARTS parts — for clients uploading files larger than 50 GB.
 */
export function chooseChunkSize(fileSize: number, preferred = DEFAULT_CHUNK_SIZE): number {
  let chunkSize = Math.max(preferred, MIN_CHUNK_SIZE);
  if (partCount(fileSize, chunkSize) > MAX_PARTS) {
    chunkSize = Math.ceil(fileSize / MAX_PARTS / MIB) * MIB;
  }
  return chunkSize;
}

/**
 * ETags travel quoted in headers (`"abc"`, sometimes weak `W/"abc"`) and unquoted in JSON.
 * Compare them only after this.
 */
export function normalizeEtag(etag: string): string {
  return etag
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1')
    .toLowerCase();
}
