/**
 * The upload endpoints' rules (docs/api.md "The upload in four steps" and "Resume"), independent of HTTP. Handlers parse and
 * call these; these take the repository, the object store, the config and the clock.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  ApiError,
  acceptedInputType,
  type CompleteRequest,
  type CompleteResponse,
  type FileType,
  type InitRequest,
  type InitResponse,
  type ListResponse,
  MAX_PARTS,
  normalizeEtag,
  partCount,
  partRange,
  type SignRequest,
  type SignResponse,
  type UploadPart,
  type UploadRef,
} from '@speos-portal/protocol';
import type { Transaction } from 'kysely';
import { type Clock, toSeconds } from '../clock.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connect.js';
import type { Database, UploadRow } from '../db/schema.js';
import { checkQuota, reserveQuota } from '../quota/usage.js';
import { multipartEtag } from '../storage/fs-store.js';
import type { ObjectInfo, ObjectStore, StoredPart } from '../storage/object-store.js';
import { validation } from '../tasks/job-settings.js';
import {
  attachUploadToTask,
  endUpload,
  findSubmittedTaskHolding,
  findTask,
  findUpload,
  insertTask,
  insertUpload,
  markUploadCompleted,
  newTaskRow,
  type Owner,
  objectKeyInUse,
  transitionTask,
  uploadDecidesTask,
} from '../tasks/repository.js';
import { cleanFilename } from './filename.js';

export interface UploadServiceDeps {
  db: Db;
  store: ObjectStore;
  config: Config;
  clock: Clock;
}

export interface UploadEvents {
  onCompleted?(upload: UploadRow): void;
  onAborted?(upload: UploadRow): void;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

function isNoSuchUpload(error: unknown): boolean {
  return error instanceof ApiError && error.code === 'NO_SUCH_UPLOAD';
}

/** 409 for a second file of one kind in a task: a task has one master and at most one include. */
function slotTaken(taskId: string, fileType: FileType, uploadId: string, status: string): ApiError {
  return new ApiError(
    'INVALID_STATE',
    `Task ${taskId} already has ${fileType === 'master' ? 'a master' : 'an include'} upload ${uploadId} (${status}); a task takes one. Resume that one with list and sign, or abort it first.`,
    { upload_id: uploadId },
  );
}

/** Names numbers compactly for a person: "3, 7, 9–12". */
export function describeNumbers(numbers: number[], limit = 20): string {
  const shown = numbers.slice(0, limit).join(', ');
  return numbers.length > limit ? `${shown} and ${numbers.length - limit} more` : shown;
}

export class UploadService {
  readonly #db: Db;
  readonly #store: ObjectStore;
  readonly #config: Config;
  readonly #clock: Clock;
  readonly #events: UploadEvents;

  constructor(deps: UploadServiceDeps, events: UploadEvents = {}) {
    this.#db = deps.db;
    this.#store = deps.store;
    this.#config = deps.config;
    this.#clock = deps.clock;
    this.#events = events;
  }

  async #presign(upload: UploadRow, partNumbers: number[]): Promise<{ expiresAt: number; parts: UploadPart[] }> {
    const expiresAt = toSeconds(this.#clock()) + this.#config.urlTtlSeconds;
    const fileSize = Number(upload.file_size);
    const chunkSize = Number(upload.chunk_size);
    const parts = await Promise.all(
      partNumbers.map(async (partNumber) => {
        const range = partRange(fileSize, chunkSize, partNumber);
        const upload_url = await this.#store.presignUploadPart(upload.object_key, upload.upload_id, partNumber, {
          size: range.size,
          expiresAt,
        });
        return {
          part_number: partNumber,
          upload_url,
          start_byte: range.startByte,
          end_byte: range.endByte,
          size: range.size,
        };
      }),
    );
    return { expiresAt, parts };
  }

  /** 1. Creates the task (or attaches to one) and the multipart upload; hands out every part URL. */
  async init(owner: Owner, request: InitRequest): Promise<InitResponse> {
    const filename = cleanFilename(request.filename);
    const fileType: FileType = request.file_type ?? 'master';
    const chunkSize = request.chunk_size ?? this.#config.chunkSize;
    // Refused before any byte is sent: the worker could not open it after a long upload.
    const type = acceptedInputType(filename, fileType);
    if (!type.ok) throw validation('filename', type.detail);
    if (request.file_size > this.#config.maxFileSize) {
      throw new ApiError(
        'FILE_TOO_LARGE',
        `file_size ${request.file_size} bytes is above this server's limit of ${this.#config.maxFileSize} bytes (${(this.#config.maxFileSize / 1048576).toFixed(0)} MiB). Ask the operator to raise MAX_FILE_SIZE.`,
      );
    }
    const totalChunks = partCount(request.file_size, chunkSize);
    if (totalChunks > MAX_PARTS) {
      throw new ApiError(
        'TOO_MANY_PARTS',
        `${totalChunks} parts of ${chunkSize} bytes exceed the limit of ${MAX_PARTS}; use chunk_size of at least ${Math.ceil(request.file_size / MAX_PARTS)}.`,
      );
    }
    const now = this.#clock();
    const slot = fileType === 'master' ? 'master_upload_id' : 'include_upload_id';
    let taskId = request.task_id;
    // The upload this init may replace in the task's slot: none, or an aborted/expired one.
    let replaces: string | null = null;
    if (taskId !== undefined) {
      const task = await findTask(this.#db, taskId, owner);
      if (!task) throw new ApiError('TASK_NOT_FOUND', `Task ${taskId} does not exist.`);
      if (task.status !== 'UPLOADING') {
        throw new ApiError(
          'INVALID_STATE',
          `Task ${taskId} is ${task.status}; files can only be added while it is UPLOADING. Start a new upload without task_id.`,
        );
      }
      replaces = task[slot];
      const existing = replaces ? await findUpload(this.#db, replaces, owner) : undefined;
      if (existing && (existing.status === 'UPLOADING' || existing.status === 'COMPLETED')) {
        throw slotTaken(taskId, fileType, existing.upload_id, existing.status);
      }
    } else {
      taskId = randomUUID();
    }
    const objectKey = await this.#freshObjectKey(taskId, fileType, filename, request.task_id !== undefined);
    const contentType = request.content_type?.trim() || 'application/octet-stream';
    // It becomes a Content-Type header on downloads: only a plain type/subtype[; params].
    if (!/^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(\s*;[\x20-\x7e]*)?$/.test(contentType)) {
      throw validation('content_type', `"${contentType}" is not a MIME type such as application/zip`);
    }
    // Refused before the store is asked for anything (USER_QUOTA_BYTES); re-checked below under a lock.
    const quota = this.#config.keeping.userQuotaBytes;
    await checkQuota(this.#db, owner, quota, request.file_size);
    const uploadId = await this.#store.createMultipartUpload(objectKey, { contentType });
    const upload: UploadRow = {
      upload_id: uploadId,
      task_id: taskId,
      owner,
      file_type: fileType,
      object_key: objectKey,
      filename,
      content_type: contentType,
      file_size: request.file_size,
      chunk_size: chunkSize,
      total_chunks: totalChunks,
      status: 'UPLOADING',
      etag: null,
      parts_digest: null,
      completed_parts: null,
      created_at: now,
      updated_at: now,
      completed_at: null,
    };
    try {
      await this.#db.transaction().execute(async (trx) => {
        await reserveQuota(trx, owner, quota, request.file_size);
        if (request.task_id === undefined) {
          await insertTask(trx, newTaskRow({ task_id: taskId, owner, created_at: now }));
        }
        await insertUpload(trx, upload);
        // Compare-and-set on the slot: of concurrent inits into one task, exactly one
        // attaches its file; the others roll back here and answer 409.
        if (!(await attachUploadToTask(trx, taskId, fileType, uploadId, replaces, now))) {
          throw await this.#whyNotAttached(trx, taskId, fileType, owner);
        }
      });
    } catch (error) {
      // The row was rolled back, so no one can reach this upload; a failed abort leaves only parts the bucket's lifecycle rule (docs/operations.md) reclaims.
      await this.#store.abortMultipartUpload(objectKey, uploadId).catch(() => {});
      throw error;
    }
    const { expiresAt, parts } = await this.#presign(
      upload,
      Array.from({ length: totalChunks }, (_, i) => i + 1),
    );
    return {
      task_id: taskId,
      upload_id: uploadId,
      object_key: objectKey,
      file_type: fileType,
      total_chunks: totalChunks,
      chunk_size: chunkSize,
      expires_at: expiresAt,
      parts,
    };
  }

  /**
   * `speos_tasks/<task>/<type>/<name>`, unless an earlier upload (aborted or expired) of
   * this task used that key: then a random segment is added, so no two uploads ever share
   * a key (an abort or delete of one must never touch another's object).
   */
  async #freshObjectKey(taskId: string, fileType: FileType, filename: string, existingTask: boolean): Promise<string> {
    const natural = `speos_tasks/${taskId}/${fileType}/${filename}`;
    if (!existingTask) return natural; // a new task id: nothing can have used its keys
    const used = await objectKeyInUse(this.#db, natural);
    return used ? `speos_tasks/${taskId}/${fileType}/${randomBytes(8).toString('hex')}/${filename}` : natural;
  }

  /** Why the compare-and-set of init did not attach the file: the task moved on, or another init won. */
  async #whyNotAttached(trx: Transaction<Database>, taskId: string, fileType: FileType, owner: Owner) {
    const task = await findTask(trx, taskId, owner);
    const holder = task?.[fileType === 'master' ? 'master_upload_id' : 'include_upload_id'];
    if (task?.status === 'UPLOADING' && holder) {
      const other = await findUpload(trx, holder, owner);
      return slotTaken(taskId, fileType, holder, other?.status ?? 'UPLOADING');
    }
    return new ApiError('INVALID_STATE', `Task ${taskId} stopped accepting files while this upload started.`);
  }

  /** The upload named by a request, if it is the caller's and the ids agree; else 404. */
  async #upload(owner: Owner, ref: UploadRef): Promise<UploadRow> {
    const upload = await findUpload(this.#db, ref.upload_id, owner);
    if (!upload || upload.task_id !== ref.task_id || upload.object_key !== ref.object_key) {
      throw new ApiError(
        'NO_SUCH_UPLOAD',
        `No upload ${ref.upload_id} with that task_id and object_key. Check the values init returned, or start a new upload.`,
      );
    }
    if (upload.status === 'ABORTED' || upload.status === 'EXPIRED') {
      throw new ApiError(
        'NO_SUCH_UPLOAD',
        `Upload ${ref.upload_id} was ${upload.status.toLowerCase()}; its parts are gone. Start a new upload with init.`,
      );
    }
    return upload;
  }

  /** 5. Parts the server holds. After complete: the parts it was completed with. */
  async list(owner: Owner, ref: UploadRef): Promise<ListResponse> {
    const upload = await this.#upload(owner, ref);
    if (upload.status === 'COMPLETED') {
      const parts = JSON.parse(upload.completed_parts ?? '[]') as [number, string, number][];
      return { parts: parts.map(([part_number, etag, size]) => ({ part_number, etag, size })) };
    }
    const parts = await this.#store.listParts(upload.object_key, upload.upload_id);
    return { parts: parts.map((p) => ({ part_number: p.partNumber, etag: p.etag, size: p.size })) };
  }

  /** 7. Fresh URLs for the given parts, or for every part the server does not hold yet. */
  async sign(owner: Owner, request: SignRequest): Promise<SignResponse> {
    const upload = await this.#upload(owner, request);
    if (upload.status === 'COMPLETED') {
      throw new ApiError(
        'UPLOAD_ALREADY_COMPLETED',
        `Upload ${upload.upload_id} is already completed; nothing to sign.`,
      );
    }
    const total = Number(upload.total_chunks);
    let numbers = request.part_numbers;
    if (numbers) {
      const outside = numbers.filter((n) => n > total);
      if (outside.length > 0) {
        throw validation('part_numbers', `this upload has parts 1…${total}; ${describeNumbers(outside)} do not exist`);
      }
      numbers = [...new Set(numbers)].sort((a, b) => a - b);
    } else {
      const stored = new Set(
        (await this.#store.listParts(upload.object_key, upload.upload_id)).map((p) => p.partNumber),
      );
      numbers = Array.from({ length: total }, (_, i) => i + 1).filter((n) => !stored.has(n));
    }
    const { expiresAt, parts } = await this.#presign(upload, numbers);
    return { expires_at: expiresAt, parts };
  }

  /** 3. Checks the part list against the upload and the stored parts, then assembles the object. */
  async complete(owner: Owner, request: CompleteRequest): Promise<CompleteResponse> {
    const upload = await this.#upload(owner, request);
    if (request.file_type !== undefined && request.file_type !== upload.file_type) {
      throw validation('file_type', `this upload is the task's ${upload.file_type}, not its ${request.file_type}`);
    }
    const parts = request.parts.map((p) => ({ partNumber: p.part_number, etag: normalizeEtag(p.etag) }));
    const digest = sha256(JSON.stringify(parts));
    if (upload.status === 'COMPLETED') {
      if (upload.parts_digest === digest) return this.#completeResponse(upload, Number(upload.file_size), upload.etag!);
      throw new ApiError(
        'UPLOAD_ALREADY_COMPLETED',
        `Upload ${upload.upload_id} was already completed with a different part list.`,
      );
    }
    this.#checkPartList(parts, Number(upload.total_chunks));
    // A concurrent complete of the same upload may finish in the store between our read
    // of the row and our calls to the store, which then no longer knows the upload.
    let stored: Map<number, StoredPart>;
    try {
      stored = new Map(
        (await this.#store.listParts(upload.object_key, upload.upload_id)).map((p) => [p.partNumber, p]),
      );
    } catch (error) {
      if (isNoSuchUpload(error)) return this.#completedMeanwhile(owner, upload, parts, digest, error);
      throw error;
    }
    const neverUploaded = parts.filter((p) => !stored.has(p.partNumber)).map((p) => p.partNumber);
    if (neverUploaded.length > 0) {
      throw new ApiError(
        'MISSING_PARTS',
        `The server holds no data for part${neverUploaded.length > 1 ? 's' : ''} ${describeNumbers(neverUploaded)}; upload ${neverUploaded.length > 1 ? 'them' : 'it'} (sign gives fresh URLs) and complete again.`,
        { missing_parts: neverUploaded },
      );
    }
    const fileSize = Number(upload.file_size);
    const chunkSize = Number(upload.chunk_size);
    for (const part of parts) {
      const held = stored.get(part.partNumber)!;
      if (held.etag !== part.etag) {
        throw new ApiError(
          'ETAG_MISMATCH',
          `Part ${part.partNumber}: the ETag sent (${part.etag}) differs from the stored part's (${held.etag}). Upload the part again, or send the ETag its PUT returned.`,
          { part_number: part.partNumber },
        );
      }
      const expected = partRange(fileSize, chunkSize, part.partNumber).size;
      if (held.size !== expected) {
        throw new ApiError(
          'PART_SIZE_MISMATCH',
          `Part ${part.partNumber} holds ${held.size} bytes but should hold ${expected}; upload it again.`,
          { part_number: part.partNumber },
        );
      }
    }
    let info: ObjectInfo;
    try {
      info = await this.#store.completeMultipartUpload(upload.object_key, upload.upload_id, parts);
    } catch (error) {
      if (isNoSuchUpload(error)) return this.#completedMeanwhile(owner, upload, parts, digest, error);
      throw error;
    }
    if (!(await this.#recordCompletion(upload, parts, digest, info.etag))) {
      return this.#answerAsRepeat(owner, upload, digest, undefined);
    }
    return this.#completeResponse(upload, info.size, info.etag);
  }

  #completeResponse(upload: UploadRow, size: number, etag: string): CompleteResponse {
    return {
      task_id: upload.task_id,
      object_key: upload.object_key,
      file_type: upload.file_type as FileType,
      size,
      etag,
      message: 'Upload completed',
    };
  }

  /** Marks the upload COMPLETED unless another complete already did; true if this call did. */
  async #recordCompletion(
    upload: UploadRow,
    parts: { partNumber: number; etag: string }[],
    digest: string,
    etag: string,
  ): Promise<boolean> {
    const fileSize = Number(upload.file_size);
    const chunkSize = Number(upload.chunk_size);
    // Every part was checked to have its planned size, so the plan gives the sizes.
    const completedParts = parts.map((p) => [p.partNumber, p.etag, partRange(fileSize, chunkSize, p.partNumber).size]);
    const recorded = await markUploadCompleted(
      this.#db,
      upload.upload_id,
      { etag, parts_digest: digest, completed_parts: JSON.stringify(completedParts) },
      this.#clock(),
    );
    if (!recorded) return false;
    this.#events.onCompleted?.({ ...upload, status: 'COMPLETED' });
    return true;
  }

  /** Another complete recorded the upload first: the same answer for the same parts, else 409. */
  async #answerAsRepeat(
    owner: Owner,
    upload: UploadRow,
    digest: string,
    storeError: unknown,
  ): Promise<CompleteResponse> {
    const current = await findUpload(this.#db, upload.upload_id, owner);
    if (current?.status === 'COMPLETED') {
      if (current.parts_digest === digest)
        return this.#completeResponse(upload, Number(current.file_size), current.etag!);
      throw new ApiError(
        'UPLOAD_ALREADY_COMPLETED',
        `Upload ${upload.upload_id} was already completed with a different part list.`,
      );
    }
    if (current?.status === 'ABORTED' || current?.status === 'EXPIRED') {
      throw new ApiError(
        'NO_SUCH_UPLOAD',
        `Upload ${upload.upload_id} was ${current.status.toLowerCase()}; its parts are gone. Start a new upload with init.`,
      );
    }
    throw (
      storeError ?? new ApiError('INVALID_STATE', `Upload ${upload.upload_id} changed state during complete; retry.`)
    );
  }

  /**
   * The store no longer knows an upload the database still calls UPLOADING. Either a
   * concurrent complete (or one cut off by a crash) assembled the object but has not
   * recorded it yet, or the upload is really gone. The object at the upload's own key
   * tells which: its ETag is the multipart ETag of exactly the parts it was made from.
   */
  async #completedMeanwhile(
    owner: Owner,
    upload: UploadRow,
    parts: { partNumber: number; etag: string }[],
    digest: string,
    storeError: unknown,
  ): Promise<CompleteResponse> {
    const current = await findUpload(this.#db, upload.upload_id, owner);
    if (current?.status !== 'UPLOADING') return this.#answerAsRepeat(owner, upload, digest, storeError);
    const object = await this.#store.headObject(upload.object_key);
    if (!object) throw storeError;
    if (object.etag !== multipartEtag(parts.map((p) => p.etag))) {
      throw new ApiError(
        'UPLOAD_ALREADY_COMPLETED',
        `Upload ${upload.upload_id} was already completed with a different part list.`,
      );
    }
    if (!(await this.#recordCompletion(upload, parts, digest, object.etag))) {
      return this.#answerAsRepeat(owner, upload, digest, storeError);
    }
    return this.#completeResponse(upload, object.size, object.etag);
  }

  /** Order, duplicates, range and completeness of a complete request's part list. */
  #checkPartList(parts: { partNumber: number }[], total: number): void {
    for (let i = 1; i < parts.length; i++) {
      const previous = parts[i - 1]!.partNumber;
      const current = parts[i]!.partNumber;
      if (current === previous) {
        throw new ApiError('DUPLICATE_PART', `Part ${current} is listed twice; list each part once.`, {
          part_number: current,
        });
      }
      if (current < previous) {
        throw new ApiError(
          'INVALID_PART_ORDER',
          `Parts must be sorted by part_number: ${current} comes after ${previous}. Sort the list and complete again.`,
        );
      }
    }
    const beyond = parts.filter((p) => p.partNumber > total).map((p) => p.partNumber);
    if (beyond.length > 0) {
      throw new ApiError(
        'INVALID_PART',
        `This upload has parts 1…${total}; part ${describeNumbers(beyond)} does not exist.`,
      );
    }
    if (parts.length < total) {
      const listed = new Set(parts.map((p) => p.partNumber));
      const missing = Array.from({ length: total }, (_, i) => i + 1).filter((n) => !listed.has(n));
      throw new ApiError(
        'MISSING_PARTS',
        `This upload has ${total} parts; the list lacks part${missing.length > 1 ? 's' : ''} ${describeNumbers(missing)}.`,
        { missing_parts: missing },
      );
    }
  }

  /** 6. Deletes the upload's data; the task becomes ABORTED if this was its master. Idempotent. */
  async abort(
    owner: Owner,
    ref: UploadRef,
  ): Promise<{ task_id: string; upload_id: string; status: string; message: string }> {
    const upload = await findUpload(this.#db, ref.upload_id, owner);
    if (!upload || upload.task_id !== ref.task_id || upload.object_key !== ref.object_key) {
      throw new ApiError('NO_SUCH_UPLOAD', `No upload ${ref.upload_id} with that task_id and object_key.`);
    }
    const answer = {
      task_id: upload.task_id,
      upload_id: upload.upload_id,
      status: 'ABORTED',
      message: 'Upload aborted',
    };
    if (upload.status === 'ABORTED' || upload.status === 'EXPIRED') return answer;
    const submitted = await findSubmittedTaskHolding(this.#db, upload.upload_id);
    if (submitted) {
      throw new ApiError(
        'INVALID_STATE',
        `This file belongs to task ${submitted.task_id}, which is already submitted (${submitted.status}). Stop or delete the task instead.`,
      );
    }
    const now = this.#clock();
    const changed = await this.#db.transaction().execute(async (trx) => {
      if (!(await endUpload(trx, upload.upload_id, ['UPLOADING', 'COMPLETED'], 'ABORTED', now))) return false;
      const task = await findTask(trx, upload.task_id, owner);
      if (uploadDecidesTask(task, upload.upload_id)) {
        await transitionTask(trx, upload.task_id, ['UPLOADING'], 'ABORTED', now, 'upload aborted');
      }
      return true;
    });
    if (changed) {
      await this.#store.abortMultipartUpload(upload.object_key, upload.upload_id);
      if (upload.status === 'COMPLETED') await this.#store.deleteObject(upload.object_key);
      this.#events.onAborted?.(upload);
    }
    return answer;
  }
}
