export * from './errors.js';
export * from './input-types.js';
export * from './planning.js';
export * from './schemas.js';
