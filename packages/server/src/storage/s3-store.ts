/**
 * The production object store: any S3-compatible service (AWS S3, MinIO, Ceph RGW,
 * Volcengine TOS, Swift + s3api). Part bytes go from the client straight to the store
 * through presigned SigV4 URLs; this class only makes the small control calls.
 *
 * S3's errors are mapped to the API's codes here, once (see `mapS3Error`), so the upload
 * service sees the same ApiErrors from this store as from the filesystem store.
 */
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetBucketCorsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ApiError, MAX_PARTS, MIB, MIN_CHUNK_SIZE } from '@speos-portal/protocol';
import { contentDisposition } from '../http/content-disposition.js';
import { fileTooLarge, multipartEtag } from './fs-store.js';
import type { ObjectInfo, ObjectStore, StoredPart } from './object-store.js';

export interface S3ObjectStoreOptions {
  /** e.g. `http://127.0.0.1:9000`; unset: AWS's own endpoint for `region`. */
  endpoint?: string | undefined;
  /**
   * The endpoint as browsers reach it, when it differs from the server's (e.g. the server
   * uses `http://minio:9000` inside a container network). Presigned URLs are signed for
   * this host, since the host is part of the signature. Unset: `endpoint`.
   */
  publicEndpoint?: string | undefined;
  region: string;
  bucket: string;
  /** Unset (with the secret): the SDK's default chain (AWS_* variables, instance role…). */
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  /**
   * `http://endpoint/bucket/key` instead of `http://bucket.endpoint/key`. MinIO, Ceph RGW
   * and Swift usually need it; AWS and TOS use virtual-hosted style.
   * @default false
   */
  forcePathStyle?: boolean;
  /** Seconds before a control call (not a part upload) counts as failed. @default 30 */
  requestTimeoutSeconds?: number;
  /** Parts asked for per ListParts page (S3 answers at most 1000). @default 1000 */
  listPartsPageSize?: number;
}

/** S3's limit for a presigned URL's lifetime (SigV4: 7 days). */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

interface S3Error {
  name?: string;
  Code?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

const unquote = (etag: string | undefined): string => (etag ?? '').replace(/^W\//, '').replace(/"/g, '');

function s3Name(error: unknown): string {
  const e = error as S3Error;
  return e.name ?? e.Code ?? '';
}

function s3Status(error: unknown): number | undefined {
  return (error as S3Error).$metadata?.httpStatusCode;
}

/** True when the store answered with this error, or a 404 for calls that have no body. */
function isS3Error(error: unknown, ...names: string[]): boolean {
  return names.includes(s3Name(error));
}

function noSuchUpload(uploadId: string): ApiError {
  return new ApiError(
    'NO_SUCH_UPLOAD',
    `Upload ${uploadId} does not exist, was aborted or has expired. Start a new upload with /tasks/upload/multipart/init.`,
  );
}

/**
 * Turns what the SDK throws into the API's error, or returns the error unchanged when it is
 * a bug or a refusal the caller cannot fix (it then becomes a 500 with the request id).
 * Network failures (no HTTP status) and 5xx become STORAGE_UNAVAILABLE: worth a retry.
 */
export function mapS3Error(error: unknown, context: { uploadId?: string; operation: string }): unknown {
  if (error instanceof ApiError) return error;
  const name = s3Name(error);
  const status = s3Status(error);
  switch (name) {
    case 'NoSuchUpload':
      return noSuchUpload(context.uploadId ?? '?');
    case 'InvalidPart':
      return new ApiError(
        'ETAG_MISMATCH',
        'An ETag in the part list differs from the stored part (or the part was never stored). List the parts and complete with their ETags.',
      );
    case 'InvalidPartOrder':
      return new ApiError('INVALID_PART_ORDER', 'Parts must be listed in strictly ascending part_number order.');
    case 'EntityTooSmall':
      return new ApiError(
        'PART_SIZE_MISMATCH',
        'A part other than the last is smaller than the object store minimum (5 MiB). Upload it again with its full size.',
      );
    case 'NoSuchKey':
      return new ApiError('NOT_FOUND', 'The object does not exist in the store.');
  }
  if (status === 507 || name === 'InsufficientStorage') {
    // Swift answers 507 when its disks are full: not worth a retry until someone frees space.
    return new ApiError(
      'INSUFFICIENT_STORAGE',
      `The object store is out of space (${context.operation}: HTTP 507). Ask the operator to free space, then resume.`,
    );
  }
  if (status === undefined || status >= 500 || name === 'SlowDown' || name === 'TimeoutError') {
    const reason = status ? `HTTP ${status} ${name}` : (error as S3Error).code || name || String(error);
    return new ApiError(
      'STORAGE_UNAVAILABLE',
      `The object store did not answer ${context.operation} (${reason}); try again shortly.`,
    );
  }
  return error;
}

/**
 * What is wrong with a bucket's CORS rules for browser uploads, or null. The uploader
 * reads each part's ETag from the PUT response, which a browser hides unless a rule that
 * allows PUT lists ETag in ExposeHeaders.
 */
export function corsRulesProblem(
  bucket: string,
  rules: { AllowedMethods?: string[]; ExposeHeaders?: string[] }[],
): string | null {
  if (rules.length === 0) {
    return `bucket "${bucket}" has no CORS configuration: browsers cannot PUT parts to it (see docs/operations.md)`;
  }
  const usable = rules.some(
    (rule) =>
      (rule.AllowedMethods ?? []).some((m) => m.toUpperCase() === 'PUT') &&
      (rule.ExposeHeaders ?? []).some((h) => h.toLowerCase() === 'etag'),
  );
  return usable
    ? null
    : `no CORS rule of bucket "${bucket}" allows PUT and exposes the ETag header: browser uploads cannot read part ETags (see docs/operations.md)`;
}

/** Part size for a streamed object: S3's 5 MiB minimum, larger when maxSize needs more than 10 000 parts. */
export function streamPartSize(maxSize: number): number {
  return Math.max(MIN_CHUNK_SIZE, Math.ceil(maxSize / MAX_PARTS / MIB) * MIB);
}

/**
 * Cuts a stream into full buffers of `partSize` bytes (the last may be shorter; none for
 * an empty stream). Throws FILE_TOO_LARGE as soon as more than `maxSize` bytes arrive.
 */
export async function* readParts(
  body: AsyncIterable<Buffer>,
  partSize: number,
  maxSize: number,
): AsyncGenerator<Buffer> {
  let part = Buffer.allocUnsafe(partSize);
  let filled = 0;
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > maxSize) throw fileTooLarge(maxSize);
    let offset = 0;
    while (offset < chunk.length) {
      const n = chunk.copy(part, filled, offset);
      filled += n;
      offset += n;
      if (filled === partSize) {
        yield part;
        part = Buffer.allocUnsafe(partSize);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield part.subarray(0, filled);
}

export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  /** Signs the URLs handed to clients; the same client unless publicEndpoint differs. */
  readonly #presigner: S3Client;
  readonly bucket: string;
  readonly #endpoint: string;
  readonly #pageSize: number;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    this.#pageSize = options.listPartsPageSize ?? 1000;
    this.#endpoint = options.endpoint ?? `https://s3.${options.region}.amazonaws.com`;
    const timeout = (options.requestTimeoutSeconds ?? 30) * 1000;
    const clientConfig = (endpoint: string | undefined) =>
      new S3Client({
        region: options.region,
        ...(endpoint ? { endpoint } : {}),
        forcePathStyle: options.forcePathStyle ?? false,
        ...(options.accessKeyId && options.secretAccessKey
          ? { credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } }
          : {}),
        // Without these the SDK signs a CRC32 of an empty body into presigned part URLs and
        // streams PutObject as aws-chunked, which S3-compatible stores refuse (501/411).
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestHandler: { connectionTimeout: Math.min(timeout, 10_000), requestTimeout: timeout },
      });
    this.client = clientConfig(options.endpoint);
    this.#presigner =
      options.publicEndpoint && options.publicEndpoint !== options.endpoint
        ? clientConfig(options.publicEndpoint)
        : this.client;
  }

  /** Runs one SDK call, mapping its failure to the API's errors. */
  async #call<T>(operation: string, uploadId: string | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw mapS3Error(error, { operation, ...(uploadId ? { uploadId } : {}) });
    }
  }

  async createMultipartUpload(key: string, options: { contentType: string }): Promise<string> {
    // It travels as an HTTP header: anything else would fail inside the SDK as if the
    // store were down (a 503), when it is the request's fault.
    if (!/^[\x20-\x7e]+$/.test(options.contentType)) {
      throw new ApiError(
        'VALIDATION_FAILED',
        `content_type: "${options.contentType}" must be a media type in printable ASCII, such as application/zip`,
        { errors: [{ field: 'content_type', message: 'must be printable ASCII' }] },
      );
    }
    const result = await this.#call('CreateMultipartUpload', undefined, () =>
      this.client.send(
        new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: options.contentType }),
      ),
    );
    if (!result.UploadId) throw new Error('the object store answered CreateMultipartUpload without an UploadId');
    return result.UploadId;
  }

  /**
   * SigV4 presigned UploadPart. Content-Length is signed, so the store itself refuses a
   * body of another size (403). An `expiresAt` already past yields a URL that is already
   * expired (signed as of just before it), rather than one valid for a minimum second.
   */
  async presignUploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    options: { size: number; expiresAt: number },
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const past = options.expiresAt <= now;
    const expiresIn = past ? 1 : Math.min(options.expiresAt - now, MAX_PRESIGN_SECONDS);
    const command = new UploadPartCommand({
      Bucket: this.bucket,
      Key: key,
      UploadId: uploadId,
      PartNumber: partNumber,
      ContentLength: options.size,
    });
    return getSignedUrl(this.#presigner, command, {
      expiresIn,
      ...(past ? { signingDate: new Date((options.expiresAt - 1) * 1000) } : {}),
    });
  }

  async listParts(key: string, uploadId: string, signal?: AbortSignal): Promise<StoredPart[]> {
    const parts: StoredPart[] = [];
    let marker: string | undefined;
    // ListParts answers at most 1000 parts a page; an upload may have 10 000.
    for (;;) {
      const page = await this.#call('ListParts', uploadId, () =>
        this.client.send(
          new ListPartsCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            MaxParts: this.#pageSize,
            ...(marker ? { PartNumberMarker: marker } : {}),
          }),
          signal ? { abortSignal: signal } : {},
        ),
      );
      for (const part of page.Parts ?? []) {
        parts.push({ partNumber: part.PartNumber ?? 0, etag: unquote(part.ETag), size: part.Size ?? 0 });
      }
      const next = page.NextPartNumberMarker;
      if (!page.IsTruncated || next === undefined || next === marker) break;
      marker = String(next);
    }
    return parts.sort((a, b) => a.partNumber - b.partNumber);
  }

  async completeMultipartUpload(
    key: string,
    uploadId: string,
    parts: { partNumber: number; etag: string }[],
  ): Promise<ObjectInfo> {
    try {
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: `"${p.etag}"` })) },
        }),
      );
    } catch (error) {
      if (isS3Error(error, 'NoSuchUpload')) {
        // S3 forgets an upload once it is completed. If the object is the one these very
        // parts make, this is a retried complete whose first answer was lost: same result.
        const existing = await this.headObject(key);
        if (existing && existing.etag === multipartEtag(parts.map((p) => p.etag))) return existing;
        throw noSuchUpload(uploadId);
      }
      if (isS3Error(error, 'InvalidPart')) throw await this.#explainInvalidPart(key, uploadId, parts);
      throw mapS3Error(error, { operation: 'CompleteMultipartUpload', uploadId });
    }
    const info = await this.headObject(key);
    if (!info) {
      throw new ApiError('STORAGE_UNAVAILABLE', `The object store completed ${key} but does not show it yet; retry.`);
    }
    return info;
  }

  /**
   * S3 answers InvalidPart both for a part never uploaded and for a wrong ETag; the API
   * tells them apart (MISSING_PARTS vs ETAG_MISMATCH), so look at what is stored.
   */
  async #explainInvalidPart(
    key: string,
    uploadId: string,
    parts: { partNumber: number; etag: string }[],
  ): Promise<ApiError> {
    const stored = new Map((await this.listParts(key, uploadId)).map((p) => [p.partNumber, p]));
    for (const part of parts) {
      const held = stored.get(part.partNumber);
      if (!held) return new ApiError('MISSING_PARTS', `Part ${part.partNumber} was never uploaded.`);
      if (held.etag !== part.etag) {
        return new ApiError(
          'ETAG_MISMATCH',
          `Part ${part.partNumber}: the stored ETag is ${held.etag}, not ${part.etag}.`,
        );
      }
    }
    return mapS3Error({ name: 'InvalidPart' }, { operation: 'CompleteMultipartUpload', uploadId }) as ApiError;
  }

  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
    } catch (error) {
      // Already aborted, completed or never existed: nothing left to delete.
      if (isS3Error(error, 'NoSuchUpload') || s3Status(error) === 404) return;
      throw mapS3Error(error, { operation: 'AbortMultipartUpload', uploadId });
    }
  }

  async headObject(key: string): Promise<ObjectInfo | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        size: head.ContentLength ?? 0,
        etag: unquote(head.ETag),
        contentType: head.ContentType ?? 'application/octet-stream',
      };
    } catch (error) {
      if (isS3Error(error, 'NotFound', 'NoSuchKey') || s3Status(error) === 404) return null;
      throw mapS3Error(error, { operation: 'HeadObject' });
    }
  }

  async getObject(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const result = await this.#call('GetObject', undefined, () =>
      this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
        }),
      ),
    );
    // In Node the SDK's body is an http.IncomingMessage (a Readable).
    return result.Body as Readable;
  }

  async putObject(key: string, body: Readable, options: { size: number; contentType: string }): Promise<ObjectInfo> {
    // One PUT with a known length: no aws-chunked encoding (Swift and RGW refuse it).
    const result = await this.#call('PutObject', undefined, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: options.size,
          ContentType: options.contentType,
        }),
      ),
    );
    return { size: options.size, etag: (result.ETag ?? '').replace(/"/g, ''), contentType: options.contentType };
  }

  /**
   * A stream of unknown length: read into parts of `#streamPartSize(maxSize)` bytes. One
   * part or less becomes a single PutObject; more, a multipart upload with one part in
   * flight while the next is read, so at most two parts are in memory. A known length per
   * request avoids aws-chunked encoding, which Swift and RGW refuse.
   */
  async putObjectStream(
    key: string,
    body: AsyncIterable<Buffer>,
    options: { contentType: string; maxSize: number },
  ): Promise<ObjectInfo> {
    const partSize = streamPartSize(options.maxSize);
    const parts = readParts(body, partSize, options.maxSize);
    const first = await parts.next();
    const firstPart = first.done ? Buffer.alloc(0) : first.value;
    const second = first.done ? first : await parts.next();
    if (second.done) {
      const result = await this.#call('PutObject', undefined, () =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: firstPart,
            ContentLength: firstPart.length,
            ContentType: options.contentType,
          }),
        ),
      );
      return { size: firstPart.length, etag: unquote(result.ETag), contentType: options.contentType };
    }
    const uploadId = await this.createMultipartUpload(key, { contentType: options.contentType });
    const uploaded: Promise<{ partNumber: number; etag: string }>[] = [];
    try {
      let partNumber = 0;
      const send = (data: Buffer) => {
        const number = ++partNumber;
        return this.#call('UploadPart', uploadId, () =>
          this.client.send(
            new UploadPartCommand({
              Bucket: this.bucket,
              Key: key,
              UploadId: uploadId,
              PartNumber: number,
              Body: data,
              ContentLength: data.length,
            }),
          ),
        ).then((answer) => ({ partNumber: number, etag: unquote(answer.ETag) }));
      };
      uploaded.push(send(firstPart));
      uploaded.at(-1)!.catch(() => {}); // awaited below; do not let it be unhandled meanwhile
      let next: IteratorResult<Buffer> = second;
      while (!next.done) {
        uploaded.push(send(next.value));
        uploaded.at(-1)!.catch(() => {});
        // One part in flight while the next is read: two parts in memory at most.
        await uploaded.at(-2);
        next = await parts.next();
      }
      const list = await Promise.all(uploaded);
      return await this.completeMultipartUpload(key, uploadId, list);
    } catch (error) {
      await parts.return(undefined).catch(() => {}); // stops reading the body
      await Promise.allSettled(uploaded);
      // The upload failed already; that error is the one to report. An abort that fails too is reclaimed by the lifecycle rule.
      await this.abortMultipartUpload(key, uploadId).catch(() => {});
      throw error;
    }
  }

  async deleteObject(key: string): Promise<void> {
    await this.#call('DeleteObject', undefined, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })),
    );
  }

  async presignGetObject(
    key: string,
    options: { expiresIn: number; filename: string; contentType?: string },
  ): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentDisposition: contentDisposition(options.filename),
      ...(options.contentType ? { ResponseContentType: options.contentType } : {}),
    });
    return getSignedUrl(this.#presigner, command, {
      expiresIn: Math.max(1, Math.min(Math.floor(options.expiresIn), MAX_PRESIGN_SECONDS)),
    });
  }

  /** Readiness: the bucket exists and these credentials may use it. Messages name the variable to fix. */
  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const status = s3Status(error);
      const detail = status ? `HTTP ${status} ${s3Name(error)}` : (error as S3Error).code || s3Name(error);
      if (status === 404) {
        throw new Error(`S3_BUCKET: bucket "${this.bucket}" does not exist at S3_ENDPOINT ${this.#endpoint}`);
      }
      if (status === 403 || status === 401) {
        throw new Error(
          `S3_BUCKET: access to bucket "${this.bucket}" at ${this.#endpoint} was refused (${detail}); check S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY`,
        );
      }
      if (status === 301 || status === 400) {
        throw new Error(
          `S3_BUCKET: bucket "${this.bucket}" answered ${detail}; check S3_REGION and S3_FORCE_PATH_STYLE`,
        );
      }
      throw new Error(`S3_ENDPOINT: cannot reach the object store at ${this.#endpoint} (${detail || String(error)})`);
    }
  }

  /**
   * Why browsers may fail to upload, judged from the bucket's CORS rules, or null when
   * the rules are fine or the store does not report them (Swift and MinIO configure CORS
   * outside the bucket).
   */
  async corsProblem(): Promise<string | null> {
    try {
      const answer = await this.client.send(new GetBucketCorsCommand({ Bucket: this.bucket }));
      return corsRulesProblem(this.bucket, answer.CORSRules ?? []);
    } catch (error) {
      if (isS3Error(error, 'NoSuchCORSConfiguration')) return corsRulesProblem(this.bucket, []);
      return null; // NotImplemented, AccessDenied…: we cannot tell, so do not cry wolf.
    }
  }

  destroy(): void {
    this.client.destroy();
    if (this.#presigner !== this.client) this.#presigner.destroy();
  }
}
