export * from './auth.js';
export * from './constants.js';
export * from './schemas.js';
export * from './task-messages.js';
