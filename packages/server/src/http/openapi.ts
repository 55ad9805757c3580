/** Helpers that put each route's possible errors into its OpenAPI responses. */

import { Type } from '@sinclair/typebox';
import { ERRORS, type ErrorCode, ErrorResponse } from '@speos-portal/protocol';

/** `{ 404: ErrorResponse described as "TASK_NOT_FOUND: …" }` for the given codes. */
export function errorResponses(codes: ErrorCode[]): Record<number, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...codes, 'VALIDATION_FAILED', 'INTERNAL_ERROR'] as ErrorCode[]) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...new Set([...(byStatus.get(status) ?? []), code])]);
  }
  const responses: Record<number, unknown> = {};
  for (const [status, list] of byStatus) {
    responses[status] = Type.Unsafe({
      ...ErrorResponse,
      description: list.map((code) => `\`${code}\`: ${ERRORS[code].summary}`).join('; '),
    });
  }
  return responses;
}

export const EmptyResponse = Type.Null({ description: 'empty body' });
