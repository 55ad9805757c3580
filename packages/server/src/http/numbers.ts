/**
 * Numbers the schemas let through but the code cannot use. Ajv coerces "Infinity" and
 * "1e400" to Infinity and then passes them (its range checks skip non-finite values), and
 * 1e20 is a whole number to it; such values then reach SQL or arithmetic and fail there
 * as a 500. After validation, every number in the body, query and path must be finite and
 * a safe integer's size (|n| ≤ 2^53 − 1); otherwise the request is a 422.
 */
import { ApiError } from '@speos-portal/protocol';
import type { FastifyInstance } from 'fastify';

const LIMIT = Number.MAX_SAFE_INTEGER;

/** Parsed JSON and query-string objects (Fastify's have their own empty prototype); not streams or bytes. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  return !(Symbol.asyncIterator in value) && !ArrayBuffer.isView(value);
}

/** The first unusable number in a parsed value, with its field name; iterative (no stack limit). */
export function findUnusableNumber(value: unknown): { field: string; value: number } | undefined {
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length > 0) {
    const [current, field] = stack.pop()!;
    if (typeof current === 'number') {
      if (!Number.isFinite(current) || Math.abs(current) > LIMIT) return { field: field || 'body', value: current };
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push([current[i], `${field}[${i}]`]);
    } else if (isPlainObject(current)) {
      for (const [key, item] of Object.entries(current)) stack.push([item, field ? `${field}.${key}` : key]);
    }
  }
  return undefined;
}

export function registerNumberCheck(app: FastifyInstance): void {
  app.addHook('preHandler', async (request) => {
    for (const [where, value] of [
      ['body', request.body],
      ['query string', request.query],
      ['path', request.params],
    ] as const) {
      const bad = findUnusableNumber(value);
      if (!bad) continue;
      const message = `must be a finite number between -${LIMIT} and ${LIMIT}`;
      throw new ApiError(
        'VALIDATION_FAILED',
        `${bad.field} ${message}${where === 'body' ? '' : ` (in the ${where})`}; got ${String(bad.value)}`,
        { errors: [{ field: bad.field, message }] },
      );
    }
  });
}
