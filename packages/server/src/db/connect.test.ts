import { tempDir } from '@speos-portal/test-support/portal.js';
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { openDatabase } from './connect.js';

it('opens SQLite in WAL mode with the configured durability (FULL unless told otherwise)', async () => {
  const pragma = async (options: Parameters<typeof openDatabase>[2]) => {
    const db = await openDatabase(undefined, await tempDir(), options);
    try {
      const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(db);
      const sync = await sql<{ synchronous: number }>`pragma synchronous`.execute(db);
      return { journal: mode.rows[0]?.journal_mode, synchronous: sync.rows[0]?.synchronous };
    } finally {
      await db.destroy();
    }
  };
  // SQLite's numbers: 1 = NORMAL, 2 = FULL, 3 = EXTRA.
  expect(await pragma({})).toEqual({ journal: 'wal', synchronous: 2 });
  expect(await pragma({ sqliteSynchronous: 'NORMAL' })).toEqual({ journal: 'wal', synchronous: 1 });
});
