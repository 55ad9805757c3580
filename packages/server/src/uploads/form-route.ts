/**
 * `POST /tasks` as multipart/form-data (form-submission.ts). Registered in a plugin of its
 * own: the multipart parser exists only here, so the JSON routes and the raw part PUT
 * route keep their own body handling.
 */
import multipart from '@fastify/multipart';
import { ApiError, SubmitFormFields, SubmitResponse } from '@speos-portal/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../config.js';
import { defaultSubmitter } from '../http/auth.js';
import { IdempotencyHeaders, idempotencyKey, REPLAYED_HEADER } from '../http/idempotency.js';
import { errorResponses } from '../http/openapi.js';
import { FILE_FIELDS, type FormSubmission, MAX_FIELD_BYTES } from './form-submission.js';

export interface FormRouteOptions {
  submission: FormSubmission;
  config: Config;
  hide: boolean;
  /** Called once a task was queued, so an in-process worker claims it at once. */
  onQueued?: (() => void) | undefined;
}

/** Room for the form's text fields and part headers beside its two files. */
const FORM_OVERHEAD = 1024 * 1024;

export const formRoute: FastifyPluginAsync<FormRouteOptions> = async (app, { submission, config, hide, onQueued }) => {
  await app.register(multipart, {
    limits: {
      fileSize: config.maxFileSize,
      files: Object.keys(FILE_FIELDS).length,
      fields: 50,
      fieldSize: MAX_FIELD_BYTES,
      parts: 60,
      headerPairs: 50,
    },
    throwFileSizeLimit: true,
  });
  // Any other body type reaches the handler unread, which says what this route takes
  // (rather than the JSON routes' "send JSON").
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));

  app.post(
    '/tasks',
    {
      schema: {
        hide,
        tags: ['upload'],
        summary: 'Submit a job in one request: files and fields as multipart/form-data (small jobs, scripts)',
        description:
          'What the original portal’s frontend sends for jobs under 10 MiB, and a convenient API for scripts: `curl -F master_file=@model.speos -F job_name=headlamp …/tasks`. Fields are those of confirm, as text. Each file may be up to MAX_FILE_SIZE. Send an Idempotency-Key header to make a repeat safe.',
        consumes: ['multipart/form-data'],
        headers: IdempotencyHeaders,
        body: SubmitFormFields,
        response: {
          200: SubmitResponse,
          ...errorResponses(['FILE_TOO_LARGE', 'QUOTA_EXCEEDED', 'UNSUPPORTED_MEDIA_TYPE', 'IDEMPOTENCY_KEY_REUSED']),
        },
      },
      // The schema documents the form; form-submission.ts checks what arrives, part by part.
      validatorCompiler: () => () => true,
    },
    async (request, reply) => {
      if (!request.isMultipart()) {
        throw new ApiError(
          'UNSUPPORTED_MEDIA_TYPE',
          'POST /tasks takes a multipart/form-data form (curl -F master_file=@model.speos -F job_name=…); JSON submissions go to /tasks/upload/confirm after an upload.',
        );
      }
      const key = idempotencyKey(request.headers);
      const declared = Number(request.headers['content-length']);
      if (declared > Object.keys(FILE_FIELDS).length * config.maxFileSize + FORM_OVERHEAD) {
        throw new ApiError(
          'FILE_TOO_LARGE',
          `The form is ${declared} bytes; each file may be at most ${config.maxFileSize} bytes (MAX_FILE_SIZE).`,
        );
      }
      // A full quota is refused before the files are read; the exact check follows their storing.
      await submission.checkQuotaBefore(request.owner, declared > FORM_OVERHEAD ? declared - FORM_OVERHEAD : 1);
      let result: Awaited<ReturnType<FormSubmission['submit']>>;
      try {
        result = await submission.submit(request.owner, request.parts(), key, defaultSubmitter(request));
      } catch (error) {
        // Refused half-way: read and drop the rest of the body, so the client, still
        // sending, finishes and reads the answer instead of stalling.
        request.raw.unpipe();
        request.raw.resume();
        throw error;
      }
      if (result.replayed) reply.header(REPLAYED_HEADER, 'true');
      else onQueued?.();
      return result.answer;
    },
  );
};
