/** HTTP routes of the upload endpoints (docs/api.md: init, complete, confirm, list, abort, sign). Thin: parse → service → answer. */
import {
  AbortResponse,
  CompleteRequest,
  CompleteResponse,
  ConfirmRequest,
  ConfirmResponse,
  InitRequest,
  InitResponse,
  ListResponse,
  SignRequest,
  SignResponse,
  UploadConfigResponse,
  UploadRef,
  versionToRelease,
} from '@speos-portal/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../config.js';
import { defaultSubmitter } from '../http/auth.js';
import { errorResponses } from '../http/openapi.js';
import type { ConfirmService } from '../tasks/confirm.js';
import { configuredReleases, SOLVER_TYPES } from '../tasks/job-settings.js';
import type { UploadService } from './service.js';

export interface UploadRoutesOptions {
  service: UploadService;
  /** Confirm submits the task: the tasks side's job (tasks/confirm.ts), served at the upload paths. */
  confirm: ConfirmService;
  config: Config;
  hide: boolean;
}

export const uploadRoutes: FastifyPluginAsync<UploadRoutesOptions> = async (
  app,
  { service, confirm, config, hide },
) => {
  const tags = ['upload'];

  app.post(
    '/tasks/upload/multipart/init',
    {
      schema: {
        hide,
        tags,
        summary: '1. Start a multipart upload (creates the task in UPLOADING)',
        description:
          'With task_id, attaches the file to a task of yours that is still UPLOADING. A task takes one master and at most one include: while one is uploading or completed, another init of that kind answers 409 INVALID_STATE (abort the first to replace it). Of concurrent inits into one task exactly one succeeds.',
        body: InitRequest,
        response: {
          200: InitResponse,
          ...errorResponses([
            'FILE_TOO_LARGE',
            'QUOTA_EXCEEDED',
            'TOO_MANY_PARTS',
            'TASK_NOT_FOUND',
            'INVALID_STATE',
            'INSUFFICIENT_STORAGE',
          ]),
        },
      },
    },
    async (request) => service.init(request.owner, request.body as InitRequest),
  );

  app.post(
    '/tasks/upload/multipart/complete',
    {
      schema: {
        hide,
        tags,
        summary: '3. Assemble the uploaded parts (idempotent)',
        body: CompleteRequest,
        response: {
          200: CompleteResponse,
          ...errorResponses([
            'INVALID_PART_ORDER',
            'DUPLICATE_PART',
            'MISSING_PARTS',
            'INVALID_PART',
            'ETAG_MISMATCH',
            'PART_SIZE_MISMATCH',
            'NO_SUCH_UPLOAD',
            'UPLOAD_ALREADY_COMPLETED',
          ]),
        },
      },
    },
    async (request) => service.complete(request.owner, request.body as CompleteRequest),
  );

  app.post(
    '/tasks/upload/confirm',
    {
      schema: {
        hide,
        tags,
        summary: '4. Submit the task (UPLOADING → PENDING; idempotent for the same body)',
        body: ConfirmRequest,
        response: {
          200: ConfirmResponse,
          ...errorResponses([
            'TASK_NOT_FOUND',
            'NO_SUCH_UPLOAD',
            'UPLOAD_NOT_COMPLETED',
            'ALREADY_CONFIRMED',
            'INVALID_STATE',
          ]),
        },
      },
    },
    async (request) => {
      const body = request.body as ConfirmRequest;
      const submitter = body.submitter?.trim() ? body.submitter : defaultSubmitter(request);
      return confirm.confirm(request.owner, { ...body, submitter });
    },
  );

  app.post(
    '/tasks/upload/multipart/list',
    {
      schema: {
        hide,
        tags,
        summary: '5. Parts the server already holds (for resume)',
        body: UploadRef,
        response: { 200: ListResponse, ...errorResponses(['NO_SUCH_UPLOAD']) },
      },
    },
    async (request) => service.list(request.owner, request.body as UploadRef),
  );

  app.post(
    '/tasks/upload/multipart/abort',
    {
      schema: {
        hide,
        tags,
        summary: '6. Abandon the upload and delete its parts (idempotent)',
        body: UploadRef,
        response: { 200: AbortResponse, ...errorResponses(['NO_SUCH_UPLOAD', 'INVALID_STATE']) },
      },
    },
    async (request) => service.abort(request.owner, request.body as UploadRef),
  );

  app.post(
    '/tasks/upload/multipart/sign',
    {
      schema: {
        hide,
        tags,
        summary: '7. Fresh upload URLs (after expiry, or for a resume)',
        body: SignRequest,
        response: { 200: SignResponse, ...errorResponses(['NO_SUCH_UPLOAD', 'UPLOAD_ALREADY_COMPLETED']) },
      },
    },
    async (request) => service.sign(request.owner, request.body as SignRequest),
  );

  const uploadConfig = async (): Promise<UploadConfigResponse> => ({
    upload_mode: 'tos',
    max_file_size_mb: Math.round((config.maxFileSize / 1048576) * 100) / 100,
    max_file_size: config.maxFileSize,
    chunk_size_mb: Math.round((config.chunkSize / 1048576) * 100) / 100,
    chunk_size: config.chunkSize,
    url_ttl_seconds: config.urlTtlSeconds,
    speos_versions: config.speosVersions,
    default_version: config.speosVersions[0]!,
    profiles: config.speosProfiles,
    max_thread_count: config.maxThreadCount,
    auth_required: config.authTokens.size > 0,
    // What the original portal's frontend builds its solver and release choices from.
    solver_types: [...SOLVER_TYPES],
    solver_ansys_release_options: { speos: configuredReleases(config) },
    solver_default_ansys_release: { speos: versionToRelease(config.speosVersions[0]!) ?? null },
  });
  for (const [url, hidden] of [
    ['/tasks/upload/config', hide],
    ['/v2/upload/config', true],
  ] as const) {
    app.get(
      url,
      {
        schema: {
          hide: hidden,
          tags,
          summary: '8. Upload limits and job choices for clients (alias /v2/upload/config)',
          response: { 200: UploadConfigResponse },
        },
      },
      uploadConfig,
    );
  }
};
