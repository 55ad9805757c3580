/** Task-reading routes: list, one task, its detail with history, its input files. */

import { Type } from '@sinclair/typebox';
import {
  ApiError,
  FileType,
  Task,
  TaskDetail,
  TaskIdParams,
  TaskListQuery,
  TaskListResponse,
} from '@speos-portal/protocol';
import type { FastifyPluginAsync } from 'fastify';
import { safeDownloadType, setDownloadHeaders } from '../http/downloads.js';
import { errorResponses } from '../http/openapi.js';
import { parseRange } from '../http/range.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { TaskService } from './service.js';

/** A presigned download only has to be valid when the GET starts, not until it ends. */
const DOWNLOAD_URL_TTL_SECONDS = 900;

export interface TaskRoutesOptions {
  tasks: TaskService;
  store: ObjectStore;
  hide: boolean;
}

export const taskRoutes: FastifyPluginAsync<TaskRoutesOptions> = async (app, { tasks, store, hide }) => {
  const tags = ['tasks'];

  app.get(
    '/tasks',
    {
      schema: {
        hide,
        tags,
        summary: 'List tasks, newest first (paged; filter by status, submitter, name; admins: by owner)',
        querystring: TaskListQuery,
        response: { 200: TaskListResponse, ...errorResponses([]) },
      },
    },
    async (request) =>
      tasks.list(request.taskScope, request.query as TaskListQuery, { withOwners: request.principal?.admin === true }),
  );

  app.get(
    '/tasks/:task_id',
    {
      schema: {
        hide,
        tags,
        summary: 'One task',
        params: TaskIdParams,
        response: { 200: Task, ...errorResponses(['TASK_NOT_FOUND']) },
      },
    },
    async (request) =>
      tasks.get(request.taskScope, (request.params as { task_id: string }).task_id, {
        withOwners: request.principal?.admin === true,
      }),
  );

  app.get(
    '/tasks/:task_id/detail',
    {
      schema: {
        hide,
        tags,
        summary: 'One task with its status history',
        params: TaskIdParams,
        response: { 200: TaskDetail, ...errorResponses(['TASK_NOT_FOUND']) },
      },
    },
    async (request) =>
      tasks.detail(request.taskScope, (request.params as { task_id: string }).task_id, {
        withOwners: request.principal?.admin === true,
      }),
  );

  app.get(
    '/tasks/:task_id/files/:file_type',
    {
      schema: {
        hide,
        tags,
        summary: 'Download the uploaded master or include file exactly as stored (Range supported)',
        params: Type.Object({ task_id: TaskIdParams.properties.task_id, file_type: FileType }),
        response: {
          200: Type.String({ format: 'binary', description: 'the file' }),
          206: Type.String({ format: 'binary', description: 'the requested byte range' }),
          302: Type.Null({ description: 'S3 storage: Location is a presigned GET of the file' }),
          ...errorResponses([
            'TASK_NOT_FOUND',
            'NOT_FOUND',
            'UPLOAD_NOT_COMPLETED',
            'FILES_EXPIRED',
            'RANGE_NOT_SATISFIABLE',
          ]),
        },
      },
    },
    async (request, reply) => {
      const { task_id: taskId, file_type: fileType } = request.params as { task_id: string; file_type: FileType };
      const upload = await tasks.inputFile(request.taskScope, taskId, fileType);
      if (store.presignGetObject) {
        // S3 storage: the client fetches the bytes from the store itself (Range works there too).
        const url = await store.presignGetObject(upload.object_key, {
          expiresIn: DOWNLOAD_URL_TTL_SECONDS,
          filename: upload.filename,
          contentType: safeDownloadType(upload.content_type),
        });
        return reply.redirect(url, 302);
      }
      const size = Number(upload.file_size);
      const range = parseRange(request.headers.range, size);
      if (range === 'unsatisfiable') {
        reply.header('Content-Range', `bytes */${size}`);
        throw new ApiError(
          'RANGE_NOT_SATISFIABLE',
          `The file has ${size} bytes; the Range ${request.headers.range} asks for none of them.`,
        );
      }
      setDownloadHeaders(reply, upload.filename, upload.content_type)
        .header('Accept-Ranges', 'bytes')
        .header('ETag', `"${upload.etag}"`);
      if (range) {
        reply
          .code(206)
          .header('Content-Range', `bytes ${range.start}-${range.end}/${size}`)
          .header('Content-Length', range.end - range.start + 1);
        return reply.send(await store.getObject(upload.object_key, range));
      }
      reply.header('Content-Length', size);
      return reply.send(await store.getObject(upload.object_key));
    },
  );
};
