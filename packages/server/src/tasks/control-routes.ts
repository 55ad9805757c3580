/** Routes that act on submitted tasks: stop, retry, delete, logs, outputs (one or as zip). */
import path from 'node:path';
import { Type } from '@sinclair/typebox';
import {
  ApiError,
  LogQuery,
  LogResponse,
  OutputsResponse,
  RetryRequest,
  RetryResponse,
  StopResponse,
  TaskIdParams,
} from '@speos-portal/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { safeDownloadType, setDownloadHeaders } from '../http/downloads.js';
import { IdempotencyHeaders, idempotencyKey, REPLAYED_HEADER } from '../http/idempotency.js';
import { errorResponses } from '../http/openapi.js';
import { parseRange } from '../http/range.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { TaskControl } from './control.js';
import { contentTypeFor, zipName } from './output-files.js';

export interface ControlRoutesOptions {
  control: TaskControl;
  store: ObjectStore;
  hide: boolean;
  /** Called after a change that a worker in this process should notice at once. */
  onQueued?: () => void;
}

type IdParams = { task_id: string };

export const controlRoutes: FastifyPluginAsync<ControlRoutesOptions> = async (
  app,
  { control, store, hide, onQueued },
) => {
  const tags = ['tasks'];

  app.post(
    '/tasks/:task_id/stop',
    {
      schema: {
        hide,
        tags,
        summary: 'Stop a task: PENDING → CANCELLED at once; RUNNING → solver terminated, then CANCELLED',
        params: TaskIdParams,
        response: { 200: StopResponse, ...errorResponses(['TASK_NOT_FOUND', 'TASK_NOT_RUNNING']) },
      },
    },
    async (request) => control.stop(request.taskScope, (request.params as IdParams).task_id),
  );

  app.post(
    '/tasks/:task_id/retry',
    {
      schema: {
        hide,
        tags,
        summary: 'Run a finished task again: a new task on the same inputs',
        description:
          'Send an Idempotency-Key header to make a repeat safe: the same key and body answer with the task the first request made.',
        params: TaskIdParams,
        headers: IdempotencyHeaders,
        body: Type.Optional(RetryRequest),
        response: {
          200: RetryResponse,
          ...errorResponses(['TASK_NOT_FOUND', 'INVALID_STATE', 'FILES_EXPIRED', 'IDEMPOTENCY_KEY_REUSED']),
        },
      },
    },
    async (request, reply) => {
      const { replayed, ...answer } = await control.retry(
        request.taskScope,
        (request.params as IdParams).task_id,
        (request.body ?? {}) as RetryRequest,
        idempotencyKey(request.headers),
        request.owner,
      );
      if (replayed) reply.header(REPLAYED_HEADER, 'true');
      else onQueued?.();
      return answer;
    },
  );

  app.delete(
    '/tasks/:task_id',
    {
      schema: {
        hide,
        tags,
        summary: 'Delete a task with its logs and outputs; inputs no other task uses are freed',
        params: TaskIdParams,
        response: {
          204: Type.Null({ description: 'deleted' }),
          ...errorResponses(['TASK_NOT_FOUND', 'INVALID_STATE']),
        },
      },
    },
    async (request, reply) => {
      await control.delete(request.taskScope, (request.params as IdParams).task_id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/tasks/:task_id/logs',
    {
      schema: {
        hide,
        tags,
        summary: "The solver's console output from byte `offset` (poll with next_offset)",
        params: TaskIdParams,
        querystring: LogQuery,
        response: { 200: LogResponse, ...errorResponses(['TASK_NOT_FOUND', 'FILES_EXPIRED']) },
      },
    },
    async (request) => {
      const { offset = 0, limit = 1048576 } = request.query as LogQuery;
      return control.logs(request.taskScope, (request.params as IdParams).task_id, offset, limit);
    },
  );

  app.get(
    '/tasks/:task_id/outputs',
    {
      schema: {
        hide,
        tags,
        summary: 'Result files of a run, with download links',
        params: TaskIdParams,
        response: { 200: OutputsResponse, ...errorResponses(['TASK_NOT_FOUND']) },
      },
    },
    async (request) => control.outputs(request.taskScope, (request.params as IdParams).task_id),
  );

  app.get(
    '/tasks/:task_id/outputs.zip',
    {
      schema: {
        hide,
        tags,
        summary: 'Every result file in one zip (streamed, ZIP64 when needed, Range supported)',
        params: TaskIdParams,
        response: {
          200: Type.String({ format: 'binary' }),
          206: Type.String({ format: 'binary', description: 'the requested byte range' }),
          ...errorResponses(['TASK_NOT_FOUND', 'FILES_EXPIRED', 'RANGE_NOT_SATISFIABLE']),
        },
      },
    },
    async (request, reply) => {
      const { task, zip } = await control.outputsZip(request.taskScope, (request.params as IdParams).task_id);
      setDownloadHeaders(reply, zipName(task), 'application/zip')
        .header('Accept-Ranges', 'bytes')
        .header('ETag', zip.etag);
      // A resumed download names the archive it has the start of; if the outputs changed since, send it whole.
      const ifRange = request.headers['if-range'];
      const range = ifRange && ifRange !== zip.etag ? undefined : parseRange(request.headers.range, zip.size);
      const read = (key: string, part: { start: number; end: number }) => store.getObject(key, part);
      if (range === 'unsatisfiable') {
        reply.header('Content-Range', `bytes */${zip.size}`);
        throw new ApiError(
          'RANGE_NOT_SATISFIABLE',
          `The archive has ${zip.size} bytes; the Range ${request.headers.range} asks for none of them.`,
        );
      }
      if (range) {
        return reply
          .code(206)
          .header('Content-Range', `bytes ${range.start}-${range.end}/${zip.size}`)
          .header('Content-Length', range.end - range.start + 1)
          .send(zip.stream(read, range.start, range.end));
      }
      return reply.header('Content-Length', zip.size).send(zip.stream(read));
    },
  );

  app.get(
    '/tasks/:task_id/outputs/*',
    {
      schema: {
        hide,
        tags,
        summary: 'Download one result file (path as listed by /outputs)',
        params: Type.Object({ task_id: TaskIdParams.properties.task_id, '*': Type.String({ minLength: 1 }) }),
        response: {
          200: Type.String({ format: 'binary' }),
          302: Type.Null({ description: 'redirect to the object store (S3)' }),
          ...errorResponses(['TASK_NOT_FOUND', 'NOT_FOUND', 'FILES_EXPIRED']),
        },
      },
    },
    async (request, reply) => {
      const params = request.params as IdParams & { '*': string };
      const row = await control.outputFile(request.taskScope, params.task_id, params['*']);
      const name = path.posix.basename(row.path);
      const type = safeDownloadType(contentTypeFor(row.path));
      if (store.presignGetObject) {
        return reply.redirect(
          await store.presignGetObject(row.object_key, { expiresIn: 3600, filename: name, contentType: type }),
        );
      }
      return setDownloadHeaders(reply, name, type)
        .header('Content-Length', Number(row.size))
        .send(await store.getObject(row.object_key));
    },
  );
};
