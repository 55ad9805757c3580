/** @speos-portal/client/node — Node-only pieces: file source, node:http transport, JSON-file state store. */
export * from './file-source.js';
export * from './http-transport.js';
export * from './json-file-store.js';
