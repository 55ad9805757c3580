/**
 * What the upload service needs from an object store. The filesystem store (embedded
 * default) and the S3 store implement it with S3's multipart semantics, and both run
 * the one conformance suite in `object-store.contract.ts`.
 *
 * Errors are thrown as ApiError with the API's codes (NO_SUCH_UPLOAD, ETAG_MISMATCH…),
 * so each store maps its own failures once, here, not in every caller.
 */
import type { Readable } from 'node:stream';

export interface StoredPart {
  partNumber: number;
  /** Unquoted, lower-case hex MD5 of the part. */
  etag: string;
  size: number;
}

export interface ObjectInfo {
  size: number;
  /** Unquoted; `<md5>-<N>` for objects assembled from N parts. */
  etag: string;
  contentType: string;
}

export interface ObjectStore {
  readonly kind: 'fs' | 's3';
  /** Starts a multipart upload and returns its opaque upload id. */
  createMultipartUpload(key: string, options: { contentType: string }): Promise<string>;
  /**
   * An absolute URL that accepts `PUT` of exactly `size` bytes as part `partNumber`
   * until `expiresAt` (epoch seconds).
   */
  presignUploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    options: { size: number; expiresAt: number },
  ): Promise<string>;
  /** Parts stored so far, ascending. Unknown, aborted or completed upload: NO_SUCH_UPLOAD. */
  listParts(key: string, uploadId: string, signal?: AbortSignal): Promise<StoredPart[]>;
  /**
   * Assembles the object from exactly these parts (ascending, ETags unquoted).
   * Calling it again with the same parts after success returns the same result.
   */
  completeMultipartUpload(
    key: string,
    uploadId: string,
    parts: { partNumber: number; etag: string }[],
  ): Promise<ObjectInfo>;
  /** Deletes the upload's parts. Idempotent: an unknown upload is not an error. */
  abortMultipartUpload(key: string, uploadId: string): Promise<void>;
  /** The object's size and ETag, or null when there is none. */
  headObject(key: string): Promise<ObjectInfo | null>;
  /** Streams the object (or bytes `start`…`end` inclusive). Missing object: NOT_FOUND. */
  getObject(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /** Deletes the object; a missing object is not an error. */
  deleteObject(key: string): Promise<void>;
  /** Stores a whole object of exactly `size` bytes from a stream (the worker's result files). */
  putObject(key: string, body: Readable, options: { size: number; contentType: string }): Promise<ObjectInfo>;
  /**
   * Stores a whole object from a stream of unknown length (the files of a form
   * submission), holding at most a part's worth of it in memory. More than `maxSize`
   * bytes: FILE_TOO_LARGE, and nothing is left stored; so too on any failure of `body`.
   */
  putObjectStream(
    key: string,
    body: AsyncIterable<Buffer>,
    options: { contentType: string; maxSize: number },
  ): Promise<ObjectInfo>;
  /** Throws when the store cannot be reached (readiness). */
  check(): Promise<void>;
  /**
   * A URL that GETs the object directly from the store until `expiresIn` seconds from now,
   * answered as a download named `filename` (of `contentType`, when given). Stores that serve downloads through the API
   * server (the filesystem store) leave it out, and the route streams getObject instead.
   */
  presignGetObject?(
    key: string,
    options: { expiresIn: number; filename: string; contentType?: string },
  ): Promise<string>;
}
