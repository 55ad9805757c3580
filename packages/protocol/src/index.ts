export * from './errors.js';
export * from './planning.js';
export * from './schemas.js';
export * from './input-types.js';
