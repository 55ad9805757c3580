export { buildApp, createPortal, VERSION } from './app.js';
export { type Clock, systemClock } from './clock.js';
export { type Config, ConfigError, loadConfig } from './config.js';
export { type Db, openDatabase } from './db/connect.js';
export { type RunningServer, serve, startServer } from './server.js';
export { FsObjectStore, multipartEtag } from './storage/fs-store.js';
export type { ObjectInfo, ObjectStore, StoredPart } from './storage/object-store.js';
export { UrlSigner } from './storage/url-signer.js';
export { runWorker } from './worker/main.js';
