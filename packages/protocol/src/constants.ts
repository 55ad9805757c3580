/**
 * `@speos-portal/protocol/constants`: the protocol without its TypeBox schemas — task
 * statuses, the error table, part planning, accepted inputs, release names. Plain values
 * and functions, so a browser bundle that imports them does not carry TypeBox
 * (`@speos-portal/protocol/schemas` has the schemas; the package root has both).
 */
export * from './errors.js';
export * from './input-types.js';
export * from './planning.js';
export * from './queue-line.js';
export * from './releases.js';

/** Every status of a task, in the order of its life. */
export const TASK_STATUSES = [
  'UPLOADING',
  'PENDING',
  'RUNNING',
  'SUCCESS',
  'FAILURE',
  'CANCELLED',
  'ABORTED',
  'EXPIRED',
] as const;
