/** Opens the object store a Config names, and checks it before the server takes requests. */

import path from 'node:path';
import { type Clock, systemClock } from '../clock.js';
import type { Config } from '../config.js';
import { FsObjectStore } from './fs-store.js';
import { Md5Pool } from './md5-pool.js';
import type { ObjectStore } from './object-store.js';
import type { S3ObjectStore } from './s3-store.js';
import { loadSigningKey, UrlSigner } from './url-signer.js';

/**
 * STORAGE=fs: the embedded store in DATA_DIR/storage. STORAGE=s3: the bucket, which must
 * be reachable now — a wrong S3_BUCKET or S3_ENDPOINT stops the start with a message
 * naming the variable instead of failing the first upload.
 */
export async function openObjectStore(config: Config, clock: Clock = systemClock): Promise<ObjectStore> {
  if (config.storage === 's3' && config.s3) {
    // Loaded only when used: the AWS SDK costs ~30 MB the embedded set-up does not need.
    const { S3ObjectStore } = await import('./s3-store.js');
    const store = new S3ObjectStore(config.s3);
    try {
      await store.check();
    } catch (error) {
      store.destroy();
      throw error;
    }
    return store;
  }
  const signer = new UrlSigner(await loadSigningKey(config.signingKey, config.dataDir), clock);
  const store = new FsObjectStore({
    root: path.join(config.dataDir, 'storage'),
    signer,
    publicUrl: config.publicUrl,
    hasher: new Md5Pool(config.hashThreads),
  });
  await store.init();
  return store;
}

/** Start-up warnings about the store that do not stop the server (a bucket CORS rule without ETag). */
export async function storeWarnings(store: ObjectStore): Promise<string[]> {
  if (store.kind !== 's3') return [];
  const problem = await (store as S3ObjectStore).corsProblem().catch(() => null);
  return problem ? [problem] : [];
}

/** Releases what the store holds open (the S3 client's sockets, the hash threads). */
export async function closeObjectStore(store: ObjectStore): Promise<void> {
  if (store.kind === 's3') (store as S3ObjectStore).destroy();
  else await (store as FsObjectStore).close();
}
