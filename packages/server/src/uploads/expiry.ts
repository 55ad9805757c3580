/**
 * Reclaims uploads left unfinished past UPLOAD_TTL_HOURS: the upload becomes EXPIRED (and
 * its task too, when it was the task's master and the task is still UPLOADING), then its
 * stored parts are deleted. Uploads completed but never confirmed (no submitted task uses
 * them) go the same way UPLOAD_TTL_HOURS after their completion, object deleted
 * (unconfirmed.ts). Runs periodically in every API server, one at a time (db/one-server.ts).
 *
 * The database moves first, by compare-and-set on status UPLOADING, so a sweep and a
 * concurrent complete or abort cannot both win; the parts are deleted after the commit.
 * If that delete fails the bucket's lifecycle rule (docs/operations.md) is the backstop.
 */
import type { Clock } from '../clock.js';
import type { Db } from '../db/connect.js';
import { lockKey, onOneServer, type PeriodicJob, startPeriodicJob } from '../db/one-server.js';
import type { UploadRow } from '../db/schema.js';
import type { Logger } from '../logger.js';
import type { ObjectStore } from '../storage/object-store.js';
import { endUpload, findTask, transitionTask, uploadDecidesTask } from '../tasks/repository.js';
import { expireUnconfirmed } from './unconfirmed.js';

/** Any key will do as long as nothing else in the database uses it: "SPEOSexp" as an int64. */
const ADVISORY_LOCK_KEY = lockKey('6003231012479297648');
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

  return onOneServer<SweepResult>(
    db,
    ADVISORY_LOCK_KEY,
    async () => ({ ran: true, expired: await sweep() }),
    () => ({ ran: false, expired: [] }),
  );
}

export type UploadExpiryJob = PeriodicJob<SweepResult>;

/** Sweeps every `intervalSeconds` (the first one right away); see startPeriodicJob. */
export function startUploadExpiry(deps: UploadExpiryDeps & { intervalSeconds: number }): UploadExpiryJob {
  return startPeriodicJob(() => expireUploads(deps), {
    intervalSeconds: deps.intervalSeconds,
    what: 'upload expiry sweep',
    log: deps.log,
  });
}
