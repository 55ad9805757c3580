/**
 * Reclaims uploads left unfinished past UPLOAD_TTL_HOURS: the upload becomes EXPIRED (and
 * its task too, when it was the task's master and the task is still UPLOADING), then its
 * stored parts are deleted. Uploads completed but never confirmed (no submitted task uses
 * them) go the same way UPLOAD_TTL_HOURS after their completion, object deleted
 * (unconfirmed.ts). Runs periodically in every API server; on PostgreSQL a
 * session advisory lock makes one instance do each sweep (SQLite has one process per data
 * directory anyway).
 *
 * The database moves first, by compare-and-set on status UPLOADING, so a sweep and a
 * concurrent complete or abort cannot both win; the parts are deleted after the commit.
 * If that delete fails the bucket's lifecycle rule (docs/operations.md) is the backstop.
 */
import { sql } from 'kysely';
import type { Clock } from '../clock.js';
import { type Db, isPostgres } from '../db/connect.js';
import type { UploadRow } from '../db/schema.js';
import type { Logger } from '../logger.js';
import type { ObjectStore } from '../storage/object-store.js';
import { endUpload, findTask, transitionTask, uploadDecidesTask } from '../tasks/repository.js';
import { expireUnconfirmed } from './unconfirmed.js';

/** Any key will do as long as nothing else in the database uses it: "SPEOSexp" as an int64. */
const ADVISORY_LOCK_KEY = sql.raw('6003231012479297648');
const BATCH = 100;

export interface UploadExpiryDeps {
  db: Db;
  store: ObjectStore;
  clock: Clock;
  ttlHours: number;
  log?: Logger;
}

export interface SweepResult {
  /** False when another instance holds the lock and did this sweep. */
  ran: boolean;
  /** Upload ids marked EXPIRED by this sweep (unfinished ones, then completed but unconfirmed ones). */
  expired: string[];
}

/** Marks one upload EXPIRED (and its task, if it was what the task was waiting for). */
async function expireOne(db: Db, upload: UploadRow, now: number, ttlHours: number): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    if (!(await endUpload(trx, upload.upload_id, ['UPLOADING'], 'EXPIRED', now))) return false; // completed or aborted meanwhile
    const task = await findTask(trx, upload.task_id, null);
    if (uploadDecidesTask(task, upload.upload_id)) {
      await transitionTask(
        trx,
        upload.task_id,
        ['UPLOADING'],
        'EXPIRED',
        now,
        `upload not completed within ${ttlHours} h; its parts were deleted`,
      );
    }
    return true;
  });
}

/** One sweep: expires every unfinished upload created before now − TTL. */
export async function expireUploads(deps: UploadExpiryDeps): Promise<SweepResult> {
  const { db, store, clock, ttlHours, log } = deps;
  const sweep = async (): Promise<string[]> => {
    const expired: string[] = [];
    const now = clock();
    const cutoff = now - ttlHours * 3600 * 1000;
    for (;;) {
      const batch = await db
        .selectFrom('uploads')
        .selectAll()
        .where('status', '=', 'UPLOADING')
        .where('created_at', '<', cutoff)
        .orderBy('created_at')
        .limit(BATCH)
        .execute();
      for (const upload of batch) {
        if (!(await expireOne(db, upload, now, ttlHours))) continue;
        expired.push(upload.upload_id);
        try {
          await store.abortMultipartUpload(upload.object_key, upload.upload_id);
        } catch (error) {
          log?.warn({ err: error, upload_id: upload.upload_id }, 'expired upload: deleting its parts failed');
        }
      }
      if (batch.length < BATCH) break;
    }
    if (expired.length > 0) log?.info({ count: expired.length }, 'expired unfinished uploads');
    const unconfirmed = await expireUnconfirmed({ db, store, now, ttlHours, log });
    if (unconfirmed.length > 0) log?.info({ count: unconfirmed.length }, 'expired completed but unconfirmed uploads');
    return [...expired, ...unconfirmed];
  };

  if (!isPostgres(db)) return { ran: true, expired: await sweep() };
  // A session lock on one pooled connection, held for the sweep; the sweep's own queries
  // use other connections. Another instance holding it means this sweep is theirs.
  return db.connection().execute(async (conn) => {
    const lock = sql<{ locked: boolean }>`select pg_try_advisory_lock(${ADVISORY_LOCK_KEY}) as locked`;
    const { rows } = await lock.execute(conn);
    if (!rows[0]?.locked) return { ran: false, expired: [] };
    try {
      return { ran: true, expired: await sweep() };
    } finally {
      await sql`select pg_advisory_unlock(${ADVISORY_LOCK_KEY})`.execute(conn);
    }
  });
}

export interface UploadExpiryJob {
  /** Runs a sweep now (waiting for one already running first). */
  runNow(): Promise<SweepResult>;
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
}

/**
 * Sweeps every `intervalSeconds` (the first one right away). The timer does not keep the
 * process alive; a failed sweep is logged and tried again next time.
 */
export function startUploadExpiry(deps: UploadExpiryDeps & { intervalSeconds: number }): UploadExpiryJob {
  let running: Promise<SweepResult> | null = null;
  let stopped = false;
  const run = (): Promise<SweepResult> => {
    // The previous sweep's failure was logged where it was started; this one runs regardless.
    if (running) return running.catch(() => {}).then(run);
    running = expireUploads(deps).finally(() => {
      running = null;
    });
    return running;
  };
  const tick = () => {
    if (stopped || running) return;
    run().catch((error) => deps.log?.warn({ err: error }, 'upload expiry sweep failed; will retry'));
  };
  const timer = setInterval(tick, deps.intervalSeconds * 1000);
  timer.unref();
  setImmediate(tick);
  return {
    runNow: run,
    async stop() {
      stopped = true;
      clearInterval(timer);
      // Stopping: a failing sweep was already logged; there is nothing left to do about it.
      await running?.catch(() => {});
    },
  };
}
