/** The repository contract on SQLite (the embedded default), in a fresh data directory. */
import { rm } from 'node:fs/promises';
import { tempDir } from '@speos-portal/test-support/portal.js';
import { openDatabase } from './connect.js';
import { runRepositoryContract } from './repository.contract.js';

runRepositoryContract('sqlite', async () => {
  const dir = await tempDir('speos-db-contract-');
  const db = await openDatabase(undefined, dir);
  return {
    db,
    async close() {
      await db.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
