/** The repository contract on PostgreSQL (a fresh database on the PG_TEST_URL server). */

import { createPgDatabase, pgTestUrl } from '@speos-portal/test-support/services.js';
import { describe, expect, it } from 'vitest';
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

  it('migrates once when several servers start on one empty database at the same time', async () => {
    const database = await createPgDatabase(server!);
    try {
      const dbs = await Promise.all(Array.from({ length: 4 }, () => openDatabase(database.url, '/nonexistent')));
      const tables = await dbs[0]!.introspection.getTables();
      expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining(['task_status_history', 'tasks', 'uploads']));
      for (const db of dbs) await db.destroy();
    } finally {
      await database.drop();
    }
  });
});
