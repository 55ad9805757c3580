/**
 * The one place errors become HTTP responses: `{"detail", "code"}` with the status of the
 * code's row in ERRORS. Validation failures read like FastAPI's: the field, then the rule.
 */
import { ApiError, ERRORS, type ErrorBody, type ErrorCode, RETRY_AFTER_SECONDS } from '@speos-portal/protocol';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseOutage, unavailableReason } from '../db/availability.js';

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** "/parts/0/etag" → "parts[0].etag" */
function fieldName(instancePath: string, missing?: unknown): string {
  const segments = instancePath.split('/').filter(Boolean);
  if (typeof missing === 'string') segments.push(missing);
  return segments.map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : i === 0 ? s : `.${s}`)).join('') || 'body';
}

function ruleText(error: AjvError, siblings: AjvError[]): string {
  const p = error.params;
  switch (error.keyword) {
    case 'required':
      return 'is required';
    case 'type':
      return `must be ${p.type === 'integer' ? 'a whole number' : `of type ${String(p.type)}`}`;
    case 'minimum':
      return `must be at least ${String(p.limit)}`;
    case 'maximum':
      return `must be at most ${String(p.limit)}`;
    case 'exclusiveMinimum':
      return `must be greater than ${String(p.limit)}`;
    case 'minLength':
      return p.limit === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters`;
    case 'maxLength':
      return `must be at most ${String(p.limit)} characters`;
    case 'minItems':
      return `must have at least ${String(p.limit)} item(s)`;
    case 'maxItems':
      return `must have at most ${String(p.limit)} items`;
    case 'format':
      return p.format === 'uuid'
        ? 'must be a UUID such as the task_id init returned'
        : `must be a valid ${String(p.format)}`;
    case 'anyOf': {
      const allowed = siblings
        .filter((s) => s.keyword === 'const' && s.instancePath === error.instancePath)
        .map((s) => JSON.stringify(s.params.allowedValue));
      return allowed.length > 0 ? `must be one of ${allowed.join(', ')}` : 'has an unexpected value';
    }
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)}`;
    default:
      return error.message ?? 'is not valid';
  }
}

/** Turns Ajv's errors into one sentence and a list, dropping the noise of union branches. */
export function describeValidation(errors: AjvError[], context: string): ErrorBody {
  const unionPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const meaningful = errors.filter((e) => !unionPaths.has(e.instancePath) || e.keyword === 'anyOf');
  const list = meaningful.map((e) => ({
    field: fieldName(e.instancePath, e.params.missingProperty),
    message: ruleText(e, errors),
  }));
  const where = context === 'body' ? '' : ` (in the ${context === 'querystring' ? 'query string' : context})`;
  const detail = list.map((e) => `${e.field} ${e.message}${where}`).join('; ');
  return { detail, code: 'VALIDATION_FAILED', errors: list };
}

/** Sets the status of the code's row, and `Retry-After` on every 503 and 429. */
export function sendError(reply: FastifyReply, code: ErrorCode, detail: string, extra?: Record<string, unknown>) {
  const status = ERRORS[code].status;
  if (status === 503 || status === 429) reply.header('Retry-After', String(RETRY_AFTER_SECONDS));
  return reply.code(status).send({ detail, code, ...extra });
}

/** Fastify's own error codes a client can cause, with what to tell them. */
const FASTIFY_ERRORS: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [
    'UNSUPPORTED_MEDIA_TYPE',
    'Send the body as JSON with Content-Type: application/json.',
  ],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['VALIDATION_FAILED', 'The request body is empty; send a JSON object.'],
  FST_ERR_CTP_BODY_TOO_LARGE: [
    'REQUEST_TOO_LARGE',
    'The request body is larger than 4 MiB; JSON calls are small (part bytes go to the upload_url).',
  ],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['BAD_REQUEST', 'Content-Length does not match the body.'],
  FST_ERR_BAD_URL: ['BAD_REQUEST', 'The URL is not valid: a %-escape in its path does not decode.'],
  FST_ERR_MAX_PARAM_LENGTH: [
    'URI_TOO_LONG',
    'A segment of the URL path is longer than 100 characters; ids such as task_id are 36-character UUIDs.',
  ],
};

/** The code for a client error Fastify or a plugin raised with only an HTTP status. */
const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  408: 'REQUEST_TIMEOUT',
  413: 'REQUEST_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  416: 'RANGE_NOT_SATISFIABLE',
  431: 'HEADERS_TOO_LARGE',
};

/** A full disk is the operator's to fix: retrying cannot help (507, no Retry-After). */
const FULL_ERRNOS = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);
/** Failures that may pass by themselves: 503 with Retry-After. */
const UNAVAILABLE_ERRNOS = new Set(['EIO', 'EROFS', 'SQLITE_BUSY', 'SQLITE_IOERR']);

/** Errors that mean the client went away (closed the tab, reloaded, lost the network). */
export function isClientGone(error: { code?: string; message?: string }): boolean {
  return (
    error.code === 'ECONNRESET' ||
    error.code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    error.code === 'ECONNABORTED' ||
    error.message === 'aborted'
  );
}

function storageFull(errno: string): string {
  return `The server's storage is full (${errno}). Nothing acknowledged was lost: the parts already stored are kept. Ask the operator to free disk space, then resume the upload (do not retry before).`;
}

/** Answers a framework-level error (bad URL, over-long path segment) with the envelope. */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const known = FASTIFY_ERRORS[error.code] ?? ['BAD_REQUEST', error.message];
  request.errorCode = known[0];
  return sendError(reply, known[0], known[1]);
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError & { validationContext?: string }, request: FastifyRequest, reply) => {
    if (error instanceof ApiError) {
      request.errorCode = error.code;
      if (error.status >= 500) request.log.warn({ code: error.code }, error.message);
      return sendError(reply, error.code, error.message, error.extra);
    }
    if (error.validation) {
      request.errorCode = 'VALIDATION_FAILED';
      const body = describeValidation(error.validation as AjvError[], error.validationContext ?? 'body');
      return reply.code(422).send(body);
    }
    const known = error.code ? FASTIFY_ERRORS[error.code] : undefined;
    if (known) {
      request.errorCode = known[0];
      return sendError(reply, known[0], known[1]);
    }
    if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      request.errorCode = 'VALIDATION_FAILED';
      return sendError(reply, 'VALIDATION_FAILED', `The request body is not valid JSON: ${error.message}`);
    }
    if (isDatabaseOutage(error)) {
      // Logged once per outage (and once on recovery) by the database's BackendHealth, not per request.
      request.log.debug({ err: error }, 'database unavailable');
      request.errorCode = 'DATABASE_UNAVAILABLE';
      return sendError(
        reply,
        'DATABASE_UNAVAILABLE',
        `The database cannot be reached (${unavailableReason(error)}); try again shortly.`,
      );
    }
    const errno = error.code ?? '';
    if (FULL_ERRNOS.has(errno)) {
      request.log.error({ errno, message: error.message }, 'storage full');
      request.errorCode = 'INSUFFICIENT_STORAGE';
      return sendError(reply, 'INSUFFICIENT_STORAGE', storageFull(errno));
    }
    if (UNAVAILABLE_ERRNOS.has(errno)) {
      request.log.error({ err: error }, 'storage unavailable');
      request.errorCode = 'STORAGE_UNAVAILABLE';
      return sendError(reply, 'STORAGE_UNAVAILABLE', `Storage is unavailable (${errno}); try again shortly.`);
    }
    if (isClientGone(error)) {
      // Normal on the web (a reload, a closed tab): one line, no stack. Nobody reads the answer.
      request.log.info({ reason: error.code ?? error.message }, 'client went away before the request finished');
      request.errorCode = 'BAD_REQUEST';
      return sendError(reply, 'BAD_REQUEST', 'The request was cut off before its body arrived.');
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      const code = CODE_BY_STATUS[error.statusCode] ?? 'BAD_REQUEST';
      request.errorCode = code;
      return sendError(reply, code, error.message || ERRORS[code].summary);
    }
    request.log.error({ err: error }, 'unexpected error');
    request.errorCode = 'INTERNAL_ERROR';
    return sendError(reply, 'INTERNAL_ERROR', `Unexpected server error; the server log has request id ${request.id}.`);
  });

  app.setNotFoundHandler((request, reply) => {
    request.errorCode = 'NOT_FOUND';
    return sendError(
      reply,
      'NOT_FOUND',
      `There is no ${request.method} ${request.url.split('?')[0]}; the API is described at /docs.`,
    );
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The API error code this request ended with, for metrics and logs. */
    errorCode?: ErrorCode;
  }
}
