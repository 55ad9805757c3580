/** The repository contract on PostgreSQL (a fresh database on the PG_TEST_URL server). */
import { describe } from 'vitest';
import { createPgDatabase, pgTestUrl } from '../test-support/services.js';
import { openDatabase } from './connect.js';
import { runRepositoryContract } from './repository.contract.js';

const server = pgTestUrl('PostgreSQL repository contract');

describe.skipIf(!server)('PostgreSQL', () => {
  runRepositoryContract('postgres', async () => {
    const database = await createPgDatabase(server!);
    const db = await openDatabase(database.url, '/nonexistent');
    return {
      db,
      async close() {
        await db.destroy();
        await database.drop();
      },
    };
  });
});
