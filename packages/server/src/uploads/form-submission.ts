/**
 * The original portal's one-request submission (`POST /tasks`, multipart/form-data): the
 * frontend sends small jobs (master + include under 10 MiB) this way instead of the
 * multipart upload flow, and scripts can too (`curl -F master_file=@model.speos …`).
 *
 * Each file is streamed into the object store as it arrives (never whole in memory), the
 * text fields are checked with the rules confirm applies (tasks/job-settings.ts), and then the
 * task, its uploads and its PENDING status are written in one transaction. Anything that
 * fails before that commit deletes what was stored: no task, no object is left behind.
 */
import { randomUUID } from 'node:crypto';
import type { Multipart, MultipartFile } from '@fastify/multipart';
import { ApiError, acceptedInputType, type FileType, JobOptions, type SubmitResponse } from '@speos-portal/protocol';
import { Ajv } from 'ajv';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { Db } from '../db/connect.js';
import type { UploadRow } from '../db/schema.js';
import { describeValidation } from '../http/errors.js';
import { fingerprint, type IdempotencyKeys, type Remembered } from '../http/idempotency.js';
import { checkQuota, reserveQuota } from '../quota/usage.js';
import type { ObjectInfo, ObjectStore } from '../storage/object-store.js';
import { jobSettings, validation } from '../tasks/job-settings.js';
import { insertTask, insertUpload, newTaskRow, type Owner, transitionTask } from '../tasks/repository.js';
import { cleanFilename } from './filename.js';

/** The form's file fields and what each becomes. */
export const FILE_FIELDS: Record<string, FileType> = { master_file: 'master', include_archive: 'include' };

/** The longest text field a form may carry (project_dir: 1024 characters). */
export const MAX_FIELD_BYTES = 16 * 1024;

// Form values are text: coerce "8" and "true" as the JSON routes coerce them (app.ts).
const checkOptions = new Ajv({ coerceTypes: true, allErrors: true, useDefaults: false }).compile(JobOptions);

interface StoredFile {
  field: string;
  fileType: FileType;
  filename: string;
  contentType: string;
  objectKey: string;
  info: ObjectInfo;
}

export interface FormSubmissionDeps {
  db: Db;
  store: ObjectStore;
  config: Config;
  clock: Clock;
  idempotency: IdempotencyKeys;
}

/** The parser's errors a client causes, with what to tell them. */
const MULTIPART_ERRORS: Record<string, () => ApiError> = {
  FST_REQ_FILE_TOO_LARGE: () =>
    new ApiError('FILE_TOO_LARGE', 'A file of the form is larger than this server allows (MAX_FILE_SIZE).'),
  FST_FILES_LIMIT: () =>
    new ApiError(
      'VALIDATION_FAILED',
      'The form carries more than two files; send master_file and include_archive only.',
    ),
  FST_FIELDS_LIMIT: () => new ApiError('VALIDATION_FAILED', 'The form carries too many fields.'),
  FST_PARTS_LIMIT: () => new ApiError('VALIDATION_FAILED', 'The form carries too many parts.'),
  FST_PROTO_VIOLATION: () => new ApiError('VALIDATION_FAILED', 'A form field is named like a JavaScript built-in.'),
  FST_INVALID_JSON_FIELD_ERROR: () =>
    new ApiError('VALIDATION_FAILED', 'A form field declared as application/json is not valid JSON.'),
  FST_MP_PREMATURE_CLOSE: () => new ApiError('VALIDATION_FAILED', 'The form ended before all of it arrived.'),
};

/**
 * What reading the client's form throws is the form's fault (no boundary, a truncated
 * part, a limit): a 422 or 413 that says so, never a 500. Our own ApiErrors pass through.
 */
function clientError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const code = (error as { code?: string }).code;
  const known = code ? MULTIPART_ERRORS[code] : undefined;
  if (known) return known();
  return new ApiError(
    'VALIDATION_FAILED',
    `The body is not a readable multipart/form-data form (${(error as Error).message}); send it as curl -F or a browser's FormData does.`,
  );
}

/**
 * What the client sends (the form's parts, a file's bytes) as it arrives, with read errors
 * turned into clientError. Errors of the consumer's own work are not caught here.
 */
async function* fromClient<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let finished = false;
  try {
    for (;;) {
      let next: IteratorResult<T>;
      try {
        next = await iterator.next();
      } catch (error) {
        finished = true;
        throw clientError(error);
      }
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    // Left early (a refusal, a store failure): stop reading it, so the request does not stall.
    if (!finished) await iterator.return?.();
  }
}

/** A content type as init accepts it: it becomes a Content-Type header on downloads. */
const CONTENT_TYPE = /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(\s*;[\x20-\x7e]*)?$/;

export class FormSubmission {
  readonly #deps: FormSubmissionDeps;

  constructor(deps: FormSubmissionDeps) {
    this.#deps = deps;
  }

  /** USER_QUOTA_BYTES before a byte of the form is stored: `bytes` is about what it carries. */
  async checkQuotaBefore(owner: Owner, bytes: number): Promise<void> {
    await checkQuota(this.#deps.db, owner, this.#deps.config.keeping.userQuotaBytes, bytes);
  }

  /** Reads the form part by part, stores its files, and submits the job once everything checks out. */
  async submit(
    owner: Owner,
    parts: AsyncIterable<Multipart>,
    idempotencyKey: string | undefined,
    /** Who the task shows as when the form names no submitter (a signed-in person's name). */
    defaultSubmitter?: string,
  ): Promise<Remembered<SubmitResponse>> {
    const taskId = randomUUID();
    const texts: Record<string, string> = {};
    const stored: StoredFile[] = [];
    try {
      for await (const part of fromClient(parts)) {
        if (part.type === 'file') stored.push(await this.#storeFile(taskId, part, stored));
        else readText(part, texts);
      }
      const master = stored.find((f) => f.fileType === 'master');
      const given = jobOptions(texts);
      const options = given.submitter?.trim() ? given : { ...given, submitter: defaultSubmitter };
      if (!master) {
        throw validation(
          'master_file',
          'is required: attach the SPEOS model as a file (curl -F master_file=@model.speos)',
        );
      }
      const settings = jobSettings(owner, options, this.#deps.config);
      const include = stored.find((f) => f.fileType === 'include');
      const request = {
        what: 'form submission',
        fingerprint: fingerprint({
          operation: 'submit',
          ...settings,
          files: stored.map((f) => ({ field: f.field, filename: f.filename, size: f.info.size, etag: f.info.etag })),
        }),
      };
      const result = await this.#deps.idempotency.once(owner, idempotencyKey, request, async (trx) => {
        const total = stored.reduce((sum, f) => sum + f.info.size, 0);
        await reserveQuota(trx, owner, this.#deps.config.keeping.userQuotaBytes, total);
        const now = this.#deps.clock();
        await insertTask(trx, newTaskRow({ task_id: taskId, owner, created_at: now }));
        const uploads = new Map<FileType, string>();
        for (const file of stored) {
          const row = uploadRow(taskId, owner, file, now);
          await insertUpload(trx, row);
          uploads.set(file.fileType, row.upload_id);
        }
        await transitionTask(trx, taskId, ['UPLOADING'], 'PENDING', now, 'submitted', {
          ...settings,
          master_upload_id: uploads.get('master') ?? null,
          include_upload_id: include ? (uploads.get('include') ?? null) : null,
          confirm_digest: request.fingerprint,
        });
        const answer: SubmitResponse = { task_id: taskId, status: 'PENDING', message: 'Task submitted' };
        return answer;
      });
      // A repeat of a submission already made: its own copy of the files is not needed.
      if (result.replayed) await this.#discard(stored);
      return result;
    } catch (error) {
      await this.#discard(stored);
      throw error;
    }
  }

  async #storeFile(taskId: string, part: MultipartFile, stored: StoredFile[]): Promise<StoredFile> {
    const fileType = FILE_FIELDS[part.fieldname];
    const refuse = (error: ApiError) => {
      part.file.destroy(); // stop reading it; the request ends with this error
      return error;
    };
    if (!fileType) {
      throw refuse(
        validation(
          part.fieldname,
          'is not a file field of this form; send the model as master_file and its references as include_archive',
        ),
      );
    }
    if (stored.some((f) => f.fileType === fileType)) {
      throw refuse(validation(part.fieldname, 'was sent twice; send one file'));
    }
    let filename: string;
    try {
      filename = cleanFilename(part.filename ?? '');
    } catch (error) {
      throw refuse(validation(part.fieldname, `its file name: ${(error as Error).message}`));
    }
    // The same list init checks: refused before its bytes are stored, not after the run fails.
    const type = acceptedInputType(filename, fileType);
    if (!type.ok) throw refuse(validation(part.fieldname, type.detail));
    const contentType = part.mimetype?.trim() || 'application/octet-stream';
    if (!CONTENT_TYPE.test(contentType)) {
      throw refuse(validation(part.fieldname, `"${contentType}" is not a media type such as application/zip`));
    }
    const { maxFileSize } = this.#deps.config;
    const tooLarge = () =>
      new ApiError(
        'FILE_TOO_LARGE',
        `${part.fieldname} "${filename}" is larger than this server's limit of ${maxFileSize} bytes (${(maxFileSize / 1048576).toFixed(0)} MiB); ask the operator to raise MAX_FILE_SIZE.`,
      );
    // The parser stops a file at MAX_FILE_SIZE; end the stream with the reason right there.
    part.file.once('limit', () => part.file.destroy(tooLarge()));
    const objectKey = `speos_tasks/${taskId}/${fileType}/${filename}`;
    let info: ObjectInfo;
    try {
      info = await this.#deps.store.putObjectStream(objectKey, fromClient<Buffer>(part.file), {
        contentType,
        maxSize: maxFileSize,
      });
    } catch (error) {
      if (error instanceof ApiError && error.code === 'FILE_TOO_LARGE') throw tooLarge();
      throw error;
    }
    const file: StoredFile = { field: part.fieldname, fileType, filename, contentType, objectKey, info };
    if (part.file.truncated) {
      await this.#discard([file]);
      throw tooLarge();
    }
    if (info.size === 0) {
      await this.#discard([file]);
      throw validation(part.fieldname, `"${filename}" is empty; attach the file itself`);
    }
    return file;
  }

  async #discard(files: StoredFile[]): Promise<void> {
    // Cleaning up after a refused form: a failure leaves an object no task references (docs/operations.md, lifecycle rule); the refusal itself is what the client must see.
    for (const file of files) await this.#deps.store.deleteObject(file.objectKey).catch(() => {});
  }
}

/** One text field into `texts`: each once, within the size limit; empty means "not given". */
function readText(part: Extract<Multipart, { type: 'field' }>, texts: Record<string, string>): void {
  const name = part.fieldname;
  if (part.valueTruncated) throw validation(name, `is longer than ${MAX_FIELD_BYTES} bytes`);
  if (Object.hasOwn(texts, name)) throw validation(name, 'was sent twice; send each field once');
  const value = typeof part.value === 'string' ? part.value : String(part.value);
  if (value !== '') texts[name] = value;
}

/** The form's text fields as job options, checked by the schema confirm's body is checked with. */
function jobOptions(texts: Record<string, string>): JobOptions {
  // Only the fields a job has: other form fields (a frontend's own) are ignored, as unknown JSON fields are.
  const options: Record<string, unknown> = {};
  for (const name of Object.keys(JobOptions.properties)) if (Object.hasOwn(texts, name)) options[name] = texts[name];
  if (!checkOptions(options)) {
    const body = describeValidation(checkOptions.errors as never, 'body');
    throw new ApiError('VALIDATION_FAILED', body.detail, { errors: body.errors });
  }
  return options as JobOptions;
}

function uploadRow(taskId: string, owner: Owner, file: StoredFile, now: number): UploadRow {
  return {
    upload_id: `form-${randomUUID()}`,
    task_id: taskId,
    owner,
    file_type: file.fileType,
    object_key: file.objectKey,
    filename: file.filename,
    content_type: file.contentType,
    file_size: file.info.size,
    // Stored whole, in one piece.
    chunk_size: file.info.size,
    total_chunks: 1,
    status: 'COMPLETED',
    etag: file.info.etag,
    parts_digest: null,
    completed_parts: '[]',
    created_at: now,
    updated_at: now,
    completed_at: now,
  };
}
