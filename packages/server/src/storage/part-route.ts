/**
 * The data plane of the filesystem store: `PUT {upload_url}` (spec/API.md 2).
 * With S3 storage these URLs point at the object store and this route is not used.
 *
 * Checks, in order: the signature (bound to upload, part, size, expiry; constant time),
 * then the expiry, then the declared length, then the body itself while it streams.
 */

import { Type } from '@sinclair/typebox';
import { ApiError, MAX_PARTS } from '@speos-portal/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../http/metrics.js';
import { errorResponses } from '../http/openapi.js';
import type { FsObjectStore } from './fs-store.js';

export interface PartRouteOptions {
  store: FsObjectStore;
  metrics: Metrics;
  hide: boolean;
}

const Params = Type.Object({
  upload_id: Type.String({ pattern: '^[0-9a-f]{32}$' }),
  part_number: Type.Integer({ minimum: 1, maximum: MAX_PARTS }),
});
const Query = Type.Object({
  size: Type.Integer({ minimum: 1 }),
  expires: Type.Integer({ minimum: 0 }),
  signature: Type.String({ minLength: 1, maxLength: 100 }),
});

export const partRoute: FastifyPluginAsync<PartRouteOptions> = async (app, { store, metrics, hide }) => {
  // Part bodies are raw bytes of any content type: hand the stream to the handler unread.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  app.put(
    '/storage/uploads/:upload_id/parts/:part_number',
    {
      config: { public: true },
      schema: {
        hide,
        tags: ['upload'],
        summary: '2. Upload one part (the upload_url from init or sign; filesystem storage)',
        description:
          'Body: exactly the bytes file.slice(start_byte, end_byte). Answers exactly 200 with header ETag: "<md5>" and an empty body once the part is on stable storage.',
        params: Params,
        querystring: Query,
        response: {
          200: Type.Null({ description: 'empty body; the ETag header carries the quoted MD5' }),
          ...errorResponses(['PART_SIZE_MISMATCH', 'SIGNATURE_INVALID', 'URL_EXPIRED', 'NO_SUCH_UPLOAD']),
        },
      },
    },
    async (request, reply) => {
      const { upload_id: uploadId, part_number: partNumber } = request.params as {
        upload_id: string;
        part_number: number;
      };
      const { size, expires, signature } = request.query as { size: number; expires: number; signature: string };
      store.signer.verify({ uploadId, partNumber, size, expiresAt: expires }, signature);
      const declared = request.headers['content-length'];
      if (declared !== undefined && Number(declared) !== size) {
        reply.header('Connection', 'close'); // do not read a body we already refuse
        throw new ApiError(
          'PART_SIZE_MISMATCH',
          `Part ${partNumber} must be exactly ${size} bytes; Content-Length says ${declared}. Send file.slice(start_byte, end_byte).`,
        );
      }
      const body = (request.body as AsyncIterable<Buffer> | undefined) ?? [];
      async function* counted(): AsyncGenerator<Buffer> {
        for await (const chunk of body) {
          metrics.bytesReceived.inc(chunk.length);
          yield chunk;
        }
      }
      const etag = await store.receivePart(uploadId, partNumber, size, counted());
      metrics.partsStored.inc();
      reply.header('ETag', `"${etag}"`);
      return reply.code(200).send();
    },
  );
};
