/**
 * Background jobs that every API server runs but only one may run at a time: the upload
 * expiry, the retention sweep and the notification dispatcher. On PostgreSQL a session
 * advisory lock on one pooled connection is held for the job (the job's own queries use
 * other connections); another server holding it means this round is theirs. SQLite has one
 * process per data directory, so the job simply runs.
 */
import { type RawBuilder, sql } from 'kysely';
import type { Logger } from '../logger.js';
import { type Db, isPostgres } from './connect.js';

/** An int64 no other part of the database uses as an advisory lock key (e.g. "SPEOSexp" in ASCII). */
export const lockKey = (int64: string): RawBuilder<unknown> => sql.raw(int64);

/** Runs `job` holding the lock `key`; `busy()` when another server holds it. */
export async function onOneServer<T>(
  db: Db,
  key: RawBuilder<unknown>,
  job: () => Promise<T>,
  busy: () => T,
): Promise<T> {
  if (!isPostgres(db)) return job();
  return db.connection().execute(async (conn) => {
    const { rows } = await sql<{ locked: boolean }>`select pg_try_advisory_lock(${key}) as locked`.execute(conn);
    if (!rows[0]?.locked) return busy();
    try {
      return await job();
    } finally {
      await sql`select pg_advisory_unlock(${key})`.execute(conn);
    }
  });
}

export interface PeriodicJob<T> {
  /** Runs the job now (after a run already in progress). */
  runNow(): Promise<T>;
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/**
 * Runs `job` every `intervalSeconds`, the first right away. The timer does not keep the
 * process alive; a failed run is logged at warn (`what` names it) and tried again next time.
 */
export function startPeriodicJob<T>(
  job: () => Promise<T>,
  options: { intervalSeconds: number; what: string; log?: Logger | undefined },
): PeriodicJob<T> {
  let running: Promise<T> | null = null;
  let stopped = false;
  const run = (): Promise<T> => {
    // The previous run's failure was logged where it was started; this one runs regardless.
    if (running) return running.catch(() => {}).then(run);
    running = job().finally(() => {
      running = null;
    });
    return running;
  };
  const tick = () => {
    if (stopped || running) return;
    run().catch((error) => options.log?.warn({ err: error }, `${options.what} failed; will retry`));
  };
  const timer = setInterval(tick, options.intervalSeconds * 1000);
  timer.unref();
  setImmediate(tick);
  return {
    runNow: run,
    async stop() {
      stopped = true;
      clearInterval(timer);
      // Stopping: a failing run was already logged; there is nothing left to do about it.
      await running?.catch(() => {});
    },
  };
}
