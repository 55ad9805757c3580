/**
 * @speos-portal/client — browser-safe core: uploader, retry policy, API client, localStorage
 * store, XHR transport, MD5. Node-only pieces live in `@speos-portal/client/node`.
 */
export * from './adaptive-concurrency.js';
export * from './api-client.js';
export * from './blob-source.js';
export * from './errors.js';
export * from './local-storage-store.js';
export * from './md5.js';
export * from './progress.js';
export * from './retry-loop.js';
export * from './retry-policy.js';
export * from './state-store.js';
export * from './transport.js';
export * from './uploader.js';
export * from './with-retry.js';
export * from './xhr-transport.js';
