/**
 * The filesystem store through a real portal on a real port: its upload URLs are served
 * by the portal's own part route, so the contract's PUTs travel real HTTP.
 */
import { rm } from 'node:fs/promises';
import { freePort, tempDir } from '@speos-portal/test-support/portal.js';
import { createPortal } from '../app.js';
import { loadConfig } from '../config.js';
import { runObjectStoreContract } from './object-store.contract.js';

runObjectStoreContract('fs', async () => {
  const dataDir = await tempDir('speos-fs-contract-');
  const port = await freePort();
  const config = loadConfig({ PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
  const { app, store } = await createPortal(config);
  await app.listen({ port, host: '127.0.0.1' });
  return {
    store,
    async close() {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});
