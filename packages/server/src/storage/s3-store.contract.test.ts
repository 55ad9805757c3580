/** The S3 store against a real S3-compatible server (Swift + s3api from scripts/services). */

import { s3TestOptions } from '@speos-portal/test-support/services.js';
import { describe } from 'vitest';
import { runObjectStoreContract } from './object-store.contract.js';
import { S3ObjectStore } from './s3-store.js';

const options = s3TestOptions('S3 object store contract');

describe.skipIf(!options)('S3 store', () => {
  runObjectStoreContract('s3', async () => {
    const store = new S3ObjectStore(options!);
    return { store, close: async () => store.destroy() };
  });
});
