/**
 * The one place errors become HTTP responses: `{"detail", "code"}` with the status of the
 * code's row in ERRORS. Validation failures read like FastAPI's: the field, then the rule.
 */
import { ApiError, ERRORS, type ErrorBody, type ErrorCode } from '@speos-portal/protocol';
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

function send(reply: FastifyReply, code: ErrorCode, detail: string, extra?: Record<string, unknown>) {
  if (code === 'RATE_LIMITED' || code === 'STORAGE_UNAVAILABLE' || code === 'DATABASE_UNAVAILABLE')
    reply.header('Retry-After', '30');
  return reply.code(ERRORS[code].status).send({ detail, code, ...extra });
}

/** Fastify's own error codes a client can cause, with what to tell them. */
const FASTIFY_ERRORS: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [
    'UNSUPPORTED_MEDIA_TYPE',
    'Send the body as JSON with Content-Type: application/json.',
  ],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['VALIDATION_FAILED', 'The request body is empty; send a JSON object.'],
  FST_ERR_CTP_BODY_TOO_LARGE: ['VALIDATION_FAILED', 'The request body is too large for this endpoint.'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['VALIDATION_FAILED', 'Content-Length does not match the body.'],
};

const STORAGE_ERRNOS = new Set(['ENOSPC', 'EIO', 'EROFS', 'EDQUOT', 'SQLITE_BUSY', 'SQLITE_FULL', 'SQLITE_IOERR']);

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError & { validationContext?: string }, request: FastifyRequest, reply) => {
    if (error instanceof ApiError) {
      request.errorCode = error.code;
      return send(reply, error.code, error.message, error.extra);
    }
    if (error.validation) {
      request.errorCode = 'VALIDATION_FAILED';
      const body = describeValidation(error.validation as AjvError[], error.validationContext ?? 'body');
      return reply.code(422).send(body);
    }
    const known = error.code ? FASTIFY_ERRORS[error.code] : undefined;
    if (known) {
      request.errorCode = known[0];
      return send(reply, known[0], known[1]);
    }
    if (error instanceof SyntaxError || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      request.errorCode = 'VALIDATION_FAILED';
      return send(reply, 'VALIDATION_FAILED', `The request body is not valid JSON: ${error.message}`);
    }
    if (isDatabaseOutage(error)) {
      // Logged once per outage (and once on recovery) by the database's BackendHealth, not per request.
      request.log.debug({ err: error }, 'database unavailable');
      request.errorCode = 'DATABASE_UNAVAILABLE';
      return send(
        reply,
        'DATABASE_UNAVAILABLE',
        `The database cannot be reached (${unavailableReason(error)}); try again shortly.`,
      );
    }
    if (STORAGE_ERRNOS.has(error.code ?? '')) {
      request.log.error({ err: error }, 'storage unavailable');
      request.errorCode = 'STORAGE_UNAVAILABLE';
      return send(reply, 'STORAGE_UNAVAILABLE', `Storage is unavailable (${error.code}); try again shortly.`);
    }
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      request.errorCode = 'VALIDATION_FAILED';
      return reply.code(error.statusCode).send({ detail: error.message, code: 'VALIDATION_FAILED' });
    }
    request.log.error({ err: error }, 'unexpected error');
    request.errorCode = 'INTERNAL_ERROR';
    return send(reply, 'INTERNAL_ERROR', `Unexpected server error; the server log has request id ${request.id}.`);
  });

  app.setNotFoundHandler((request, reply) => {
    request.errorCode = 'NOT_FOUND';
    return send(
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
