/**
 * Licence pools for the local executor (LICENSES="speos:4"): the portal never runs more
 * jobs than a pool holds, across all workers and servers sharing the database. Each job
 * takes one licence of every configured pool while it runs.
 *
 * The count lives in the database: `license_pools` holds each pool's size, `license_holds`
 * which task took one. A hold counts only while its task is RUNNING under a lease that has
 * not lapsed, so the licence of a worker that died comes back when its lease does — no
 * release step can be missed. Claims check and take licences in the claim's transaction,
 * with the pool rows locked (PostgreSQL; SQLite has one writer), so two workers cannot
 * both take the last licence. (With EXECUTOR=slurm, Slurm counts: jobs ask for -L name:1.)
 */

import type { Kysely, Transaction } from 'kysely';
import type { Db } from '../db/connect.js';
import { isPostgres } from '../db/connect.js';
import type { Database } from '../db/schema.js';

type Executor = Kysely<Database> | Transaction<Database>;

/** Records this worker's pool sizes (the last worker to start wins: give all the same LICENSES). */
export async function syncLicensePools(db: Db, pools: Map<string, number>): Promise<void> {
  for (const [name, total] of pools) {
    await db
      .insertInto('license_pools')
      .values({ name, total })
      .onConflict((oc) => oc.column('name').doUpdateSet({ total }))
      .execute();
  }
}

/** How many licences of `name` running tasks hold now. */
async function held(db: Executor, name: string, now: number): Promise<number> {
  const row = await db
    .selectFrom('license_holds')
    .innerJoin('tasks', 'tasks.task_id', 'license_holds.task_id')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('license_holds.name', '=', name)
    .where('tasks.status', '=', 'RUNNING')
    .where('tasks.lease_expires_at', '>=', now)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/**
 * Inside a claim's transaction: true if a licence of each of `names` is free. Locks the
 * pools' rows on PostgreSQL until the transaction ends.
 */
export async function licensesFree(trx: Transaction<Database>, names: string[], now: number): Promise<boolean> {
  if (names.length === 0) return true;
  let pools = trx.selectFrom('license_pools').select(['name', 'total']).where('name', 'in', names).orderBy('name');
  if (isPostgres(trx as unknown as Db)) pools = pools.forUpdate();
  const totals = new Map((await pools.execute()).map((p) => [p.name, Number(p.total)]));
  for (const name of names) {
    if ((await held(trx, name, now)) >= (totals.get(name) ?? 0)) return false;
  }
  return true;
}

/** Inside the claim's transaction: `taskId` now holds one licence of each of `names`. */
export async function takeLicenses(trx: Transaction<Database>, taskId: string, names: string[]): Promise<void> {
  if (names.length === 0) return;
  // Holds of tasks that are no longer running count for nothing; drop them as we go.
  await trx
    .deleteFrom('license_holds')
    .where((eb) =>
      eb.or([
        eb('task_id', '=', taskId),
        eb('task_id', 'not in', eb.selectFrom('tasks').select('task_id').where('status', '=', 'RUNNING')),
      ]),
    )
    .execute();
  await trx
    .insertInto('license_holds')
    .values(names.map((name) => ({ task_id: taskId, name })))
    .execute();
}

/** True when some pool has no licence free now (a PENDING task then waits for one). */
export async function anyPoolFull(db: Db, now: number): Promise<boolean> {
  const pools = await db.selectFrom('license_pools').select(['name', 'total']).execute();
  for (const pool of pools) {
    if ((await held(db, pool.name, now)) >= Number(pool.total)) return true;
  }
  return false;
}
