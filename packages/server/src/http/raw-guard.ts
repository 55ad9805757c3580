/**
 * Code that runs on raw Node requests and sockets, outside Fastify's error handling: the
 * server's 'checkContinue' and 'clientError' listeners. A throw there is not turned into
 * a response — it ends the process. So each such listener is wrapped: an unexpected throw
 * is logged with the request id and answered 500, and the server keeps serving.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { ERRORS, type ErrorCode } from '@speos-portal/protocol';
import type { FastifyBaseLogger } from 'fastify';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

/** The client's X-Request-Id when it is sane, else a new one; kept on the request for Fastify. */
export function rawRequestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && REQUEST_ID.test(given)) return given;
  const id = randomUUID();
  req.headers['x-request-id'] = id; // Fastify's genReqId keeps it: one id in every log line
  return id;
}

/** The JSON envelope, for answers written without Fastify. */
export function errorBody(code: ErrorCode, detail: string): string {
  return JSON.stringify({ detail, code });
}

/** Writes an error answer on a raw response and closes the connection. */
export function writeRawError(res: ServerResponse, code: ErrorCode, detail: string, requestId?: string): void {
  const body = errorBody(code, detail);
  res.writeHead(ERRORS[code].status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Expose-Headers': 'X-Request-Id',
    ...(requestId ? { 'X-Request-Id': requestId } : {}),
    Connection: 'close',
  });
  res.end(body);
}

type RawListener = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * Wraps a raw request listener so that nothing it throws (or rejects with) can end the
 * process: the failure is logged with the request id and answered 500 when no answer
 * was started, else the connection is closed.
 */
export function guardRawListener(log: FastifyBaseLogger, where: string, listener: RawListener): RawListener {
  return (req, res) => {
    const fail = (error: unknown) => {
      const requestId = rawRequestId(req);
      log.error({ err: error, request_id: requestId, where }, 'unexpected error outside the request pipeline');
      try {
        if (!res.headersSent) {
          writeRawError(
            res,
            'INTERNAL_ERROR',
            `Unexpected server error; the server log has request id ${requestId}.`,
            requestId,
          );
        } else {
          res.destroy();
        }
      } catch {
        res.destroy();
      }
    };
    try {
      const result = listener(req, res);
      if (result && typeof result.then === 'function') result.then(undefined, fail);
    } catch (error) {
      fail(error);
    }
  };
}

/**
 * Fastify's `clientErrorHandler`: what to answer when Node cannot parse a request at all
 * (not HTTP, headers too large or too slow). Fastify's default body is
 * `{error, message, statusCode}`; this one is the API's `{detail, code}`.
 */
export function clientErrorHandler(this: { log: FastifyBaseLogger }, error: NodeJS.ErrnoException, socket: Socket) {
  try {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    let code: ErrorCode = 'BAD_REQUEST';
    let detail = `The request is not valid HTTP/1.1 (${error.code ?? 'parse error'}).`;
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      code = 'REQUEST_TIMEOUT';
      detail = 'The request headers did not arrive in time; send the request again.';
    } else if (error.code === 'HPE_HEADER_OVERFLOW') {
      code = 'HEADERS_TOO_LARGE';
      detail = 'The request headers are larger than the server accepts (16 KiB); send fewer or shorter headers.';
    }
    this.log.debug({ err_code: error.code }, 'unreadable request');
    const status = ERRORS[code].status;
    const body = errorBody(code, detail);
    if (socket.writable) {
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
      );
    } else {
      socket.destroy();
    }
  } catch (failure) {
    this.log.error({ err: failure }, 'unexpected error answering an unreadable request');
    socket.destroy();
  }
}
