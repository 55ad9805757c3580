export * from './auth.js';
export * from './errors.js';
export * from './input-types.js';
export * from './planning.js';
export * from './releases.js';
export * from './schemas.js';
export * from './task-messages.js';
