/**
 * Uploads completed but never confirmed: no submitted task uses them, yet they hold a
 * whole file. UPLOAD_TTL_HOURS after completion the upload becomes EXPIRED (and its task
 * too, while it is still UPLOADING) and its object is deleted — like unfinished uploads
 * (expiry.ts, which calls this in the same sweep under the same lock).
 *
 * Confirm races this by row: it re-reads its inputs as COMPLETED inside its own
 * transaction (holdInputs below), and this sweep looks for a submitted user of the upload
 * after its own compare-and-set, so of the two only one can win.
 */
import type { Transaction } from 'kysely';
import type { Db } from '../db/connect.js';
import type { Database, UploadRow } from '../db/schema.js';
import type { Logger } from '../logger.js';
import type { ObjectStore } from '../storage/object-store.js';
import { endUpload, findTask, transitionTask, uploadDecidesTask } from '../tasks/repository.js';

const BATCH = 100;
/** Statuses of tasks that no longer (or not yet) need their files for a run. */
const NOT_SUBMITTED = ['UPLOADING', 'ABORTED', 'EXPIRED'];

class StillUsed extends Error {}

async function submittedUser(trx: Transaction<Database>, uploadId: string): Promise<boolean> {
  const user = await trx
    .selectFrom('tasks')
    .select('task_id')
    .where((eb) => eb.or([eb('master_upload_id', '=', uploadId), eb('include_upload_id', '=', uploadId)]))
    .where('status', 'not in', NOT_SUBMITTED)
    .executeTakeFirst();
  return user !== undefined;
}

async function expireOne(db: Db, upload: UploadRow, now: number, ttlHours: number): Promise<boolean> {
  try {
    return await db.transaction().execute(async (trx) => {
      if (!(await endUpload(trx, upload.upload_id, ['COMPLETED'], 'EXPIRED', now))) return false;
      // After the row is ours: a confirm that committed meanwhile is seen here.
      if (await submittedUser(trx, upload.upload_id)) throw new StillUsed();
      const task = await findTask(trx, upload.task_id, null);
      if (uploadDecidesTask(task, upload.upload_id)) {
        await transitionTask(
          trx,
          upload.task_id,
          ['UPLOADING'],
          'EXPIRED',
          now,
          `uploaded but not submitted within ${ttlHours} h; the file was deleted`,
        );
      }
      return true;
    });
  } catch (error) {
    if (error instanceof StillUsed) return false;
    throw error;
  }
}

/** Expires completed uploads no submitted task uses, completed before now − TTL; returns their ids. */
export async function expireUnconfirmed(deps: {
  db: Db;
  store: ObjectStore;
  now: number;
  ttlHours: number;
  log?: Logger | undefined;
}): Promise<string[]> {
  const { db, store, now, ttlHours, log } = deps;
  const cutoff = now - ttlHours * 3600 * 1000;
  const expired: string[] = [];
  // Rows found still in use are skipped by the cursor, so a batch of them cannot loop forever.
  let after = { at: -1, id: '' };
  for (;;) {
    const batch = await db
      .selectFrom('uploads')
      .selectAll()
      .where('status', '=', 'COMPLETED')
      .where('completed_at', '<', cutoff)
      .where((eb) =>
        eb.or([
          eb('completed_at', '>', after.at),
          eb.and([eb('completed_at', '=', after.at), eb('upload_id', '>', after.id)]),
        ]),
      )
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('tasks')
              .select('tasks.task_id')
              .where((eb) =>
                eb.or([
                  eb('tasks.master_upload_id', '=', eb.ref('uploads.upload_id')),
                  eb('tasks.include_upload_id', '=', eb.ref('uploads.upload_id')),
                ]),
              )
              .where('tasks.status', 'not in', NOT_SUBMITTED),
          ),
        ),
      )
      .orderBy('completed_at')
      .orderBy('upload_id')
      .limit(BATCH)
      .execute();
    for (const upload of batch) {
      if (!(await expireOne(db, upload, now, ttlHours))) continue;
      expired.push(upload.upload_id);
      try {
        await store.deleteObject(upload.object_key);
      } catch (error) {
        log?.warn({ err: error, upload_id: upload.upload_id }, 'expired unconfirmed upload: deleting its file failed');
      }
    }
    const last = batch.at(-1);
    if (!last || batch.length < BATCH) break;
    after = { at: Number(last.completed_at), id: last.upload_id };
  }
  return expired;
}

/**
 * For confirm, inside its transaction: touches each input upload while it is COMPLETED.
 * False if one is not (the expiry sweep took it): the confirm must roll back.
 */
export async function holdInputs(trx: Transaction<Database>, uploadIds: string[], now: number): Promise<boolean> {
  for (const uploadId of uploadIds) {
    const result = await trx
      .updateTable('uploads')
      .set({ updated_at: now })
      .where('upload_id', '=', uploadId)
      .where('status', '=', 'COMPLETED')
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) return false;
  }
  return true;
}
