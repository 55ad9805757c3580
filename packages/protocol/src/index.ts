export * from './auth.js';
export * from './errors.js';
export * from './planning.js';
export * from './releases.js';
export * from './schemas.js';
