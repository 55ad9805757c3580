/**
 * The data plane of the filesystem store: `PUT {upload_url}` (docs/api.md, step 2).
 * With S3 storage these URLs point at the object store and this route is not used.
 *
 * Checks, in order: the signature (bound to upload, part, size, expiry; constant time),
 * then the expiry, then the declared length, then the body itself while it streams.
 */

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Type } from '@sinclair/typebox';
import { ApiError, MAX_CHUNK_SIZE, MAX_PARTS } from '@speos-portal/protocol';
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../http/metrics.js';
import { errorResponses } from '../http/openapi.js';
import { guardRawListener, rawRequestId, writeRawError } from '../http/raw-guard.js';
import type { FsObjectStore } from './fs-store.js';

/** Past this much of a refused body, stop reading and close the connection instead. */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;
const DRAIN_TIMEOUT_MS = 30_000;

/** Reads and discards the rest of a request body; false if it was too long or too slow. */
export function drainBody(request: IncomingMessage, limit: number, timeoutMs: number): Promise<boolean> {
  if (request.readableEnded || request.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    let seen = 0;
    const finish = (drained: boolean) => {
      clearTimeout(timer);
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onEnd);
      request.off('close', onEnd);
      if (!drained) request.pause();
      resolve(drained);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > limit) finish(false);
    };
    const onEnd = () => finish(true);
    const timer = setTimeout(() => finish(false), timeoutMs);
    request.on('data', onData);
    request.once('end', onEnd);
    request.once('error', onEnd);
    request.once('close', onEnd);
    request.resume();
  });
}

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
  size: Type.Integer({ minimum: 1, maximum: MAX_CHUNK_SIZE }),
  expires: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  signature: Type.String({ minLength: 1, maxLength: 100 }),
});

export const partRoute: FastifyPluginAsync<PartRouteOptions> = async (app, { store, metrics, hide }) => {
  // Part bodies are raw bytes of any content type: hand the stream to the handler unread.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  // A refused part's body may still be arriving. Answering while the client is mid-send
  // races both ways: keep-alive clients can stall, and closing the socket with bytes
  // still arriving resets it, which destroys the answer or turns it into a proxy's 502.
  // So read what remains (up to a cap), then answer. Clients that send
  // Expect: 100-continue are refused before they send any body (rejectBeforeContinue).
  app.addHook('onSend', async (request, reply) => {
    if (reply.statusCode < 400) return;
    if (!(await drainBody(request.raw, DRAIN_LIMIT_BYTES, DRAIN_TIMEOUT_MS))) reply.header('Connection', 'close');
  });

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
          ...errorResponses([
            'PART_SIZE_MISMATCH',
            'SIGNATURE_INVALID',
            'URL_EXPIRED',
            'NO_SUCH_UPLOAD',
            'STORAGE_UNAVAILABLE',
            'INSUFFICIENT_STORAGE',
          ]),
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
          releaseChunk(chunk); // the store has copied it: it asked for the next
        }
      }
      const etag = await store.receivePart(uploadId, partNumber, size, counted());
      metrics.partsStored.inc();
      reply.header('ETag', `"${etag}"`);
      return reply.code(200).send();
    },
  );
};

/**
 * Frees a body chunk's memory now rather than at the next full garbage collection. Node's HTTP
 * parser copies each body chunk (up to 64 KiB) into an ArrayBuffer of its own: 8,000 of them
 * per 500 MiB. They die young, but V8 collects them only when its heap, not their memory,
 * fills; during an upload up to 40 MiB of them waited, and their pressure forced a full
 * collection every ~100 ms (bench: server peak RSS 172 → 150 MiB, upload 20 % faster).
 * Detaching with `transfer(0)` frees the memory at once. Only a chunk that is its whole buffer
 * (so no other view sees it), and only once the store asked for the next chunk: `receivePart`
 * copies each chunk before that.
 *
 * `transfer` is ES2024 (Node ≥ 22, which the README requires). Node 20 lacks it, and so does a
 * SharedArrayBuffer: there the chunk waits for the collector as before. Calling it blindly
 * turned every part PUT on Node 20 into a 500.
 */
export function releaseChunk(chunk: Buffer): void {
  const buffer = chunk.buffer as ArrayBufferLike & { transfer?: (length: number) => ArrayBuffer };
  if (typeof buffer.transfer !== 'function') return;
  if (chunk.byteOffset === 0 && chunk.byteLength === buffer.byteLength) buffer.transfer(0);
}

const PART_PATH = /^(?:\/api)?\/storage\/uploads\/([0-9a-f]{32})\/parts\/(\d+)$/;

/**
 * Clients that send `Expect: 100-continue` (curl, the AWS SDK, some proxies) wait for the
 * server's go-ahead before sending a part. Check the URL's signature, expiry and length
 * first, so a stale URL costs a round trip instead of the whole part. Anything that is not
 * a part URL goes on to Fastify, which answers it as it would without the header.
 *
 * This listener runs outside Fastify's error handling, so it never parses with `new URL`
 * (which throws on targets such as `//`) and is guarded: a throw is answered 500.
 */
export function rejectBeforeContinue(server: Server, store: FsObjectStore, log: FastifyBaseLogger): void {
  const listener = guardRawListener(log, 'checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const target = req.url ?? '/';
    const queryAt = target.indexOf('?');
    const pathname = queryAt === -1 ? target : target.slice(0, queryAt);
    const query = new URLSearchParams(queryAt === -1 ? '' : target.slice(queryAt + 1));
    const match = req.method === 'PUT' ? PART_PATH.exec(pathname) : null;
    if (match) {
      const size = Number(query.get('size'));
      const grant = {
        uploadId: match[1]!,
        partNumber: Number(match[2]),
        size,
        expiresAt: Number(query.get('expires')),
      };
      let refusal: ApiError | undefined;
      try {
        store.signer.verify(grant, query.get('signature') ?? '');
        const declared = req.headers['content-length'];
        if (declared !== undefined && Number(declared) !== size) {
          refusal = new ApiError(
            'PART_SIZE_MISMATCH',
            `Part ${grant.partNumber} must be exactly ${size} bytes; Content-Length says ${declared}.`,
          );
        }
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        refusal = error;
      }
      if (refusal) {
        writeRawError(res, refusal.code, refusal.message, rawRequestId(req));
        return;
      }
    }
    res.writeContinue();
    server.emit('request', req, res);
  });
  server.on('checkContinue', listener);
}
