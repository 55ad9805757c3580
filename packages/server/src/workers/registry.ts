/**
 * Which workers are alive. Each worker writes its row when it starts, renews it on every
 * poll of its loop (at least every third of its lease) and removes it when it stops; a
 * worker that dies stays listed as offline until its row is old enough to forget.
 */
import { type QueueReasonCode, renderTaskMessage } from '@speos-portal/protocol';
import type { Db } from '../db/connect.js';

/** Offline workers are listed this long after their last heartbeat, then forgotten. */
export const FORGET_OFFLINE_AFTER_MS = 24 * 3600 * 1000;

export interface WorkerAnnouncement {
  workerId: string;
  host: string;
  /** SPEOS versions it runs; `*` for every version. */
  versions: string[];
  slots: number;
  /** How long it counts as online after a heartbeat (its lease). */
  leaseMs: number;
}

export interface WorkerState {
  worker_id: string;
  host: string;
  versions: string[];
  slots: number;
  running_tasks: number;
  started_at: number;
  last_heartbeat: number;
  online: boolean;
}

/** Writes (or rewrites, after a restart under the same WORKER_ID) the worker's row. */
export async function announceWorker(db: Db, worker: WorkerAnnouncement, now: number): Promise<void> {
  const row = {
    host: worker.host,
    versions: JSON.stringify(worker.versions),
    slots: worker.slots,
    started_at: now,
    last_heartbeat: now,
    online_until: now + worker.leaseMs,
  };
  await db.transaction().execute(async (trx) => {
    await trx.deleteFrom('workers').where('worker_id', '=', worker.workerId).execute();
    await trx
      .insertInto('workers')
      .values({ worker_id: worker.workerId, ...row })
      .execute();
  });
}

/** Renews the worker's row; writes it again if someone removed it. */
export async function workerHeartbeat(db: Db, worker: WorkerAnnouncement, now: number): Promise<void> {
  const result = await db
    .updateTable('workers')
    .set({ last_heartbeat: now, online_until: now + worker.leaseMs })
    .where('worker_id', '=', worker.workerId)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) await announceWorker(db, worker, now);
}

/** A worker that stops on purpose is gone at once, not after its lease. */
export async function removeWorker(db: Db, workerId: string): Promise<void> {
  await db.deleteFrom('workers').where('worker_id', '=', workerId).execute();
}

/** Every worker seen in the last day, online first, with how many tasks each runs now. */
export async function listWorkers(db: Db, now: number): Promise<WorkerState[]> {
  const rows = await db
    .selectFrom('workers')
    .selectAll()
    .where('last_heartbeat', '>', now - FORGET_OFFLINE_AFTER_MS)
    .orderBy('worker_id')
    .execute();
  const running = await db
    .selectFrom('tasks')
    .select(['lease_owner', (eb) => eb.fn.countAll<string | number>().as('count')])
    .where('status', '=', 'RUNNING')
    .where('lease_owner', 'is not', null)
    .groupBy('lease_owner')
    .execute();
  const runningBy = new Map(running.map((r) => [r.lease_owner, Number(r.count)]));
  const workers = rows.map((row) => ({
    worker_id: row.worker_id,
    host: row.host,
    versions: JSON.parse(row.versions) as string[],
    slots: Number(row.slots),
    running_tasks: runningBy.get(row.worker_id) ?? 0,
    started_at: Number(row.started_at),
    last_heartbeat: Number(row.last_heartbeat),
    online: Number(row.online_until) > now,
  }));
  return workers.sort((a, b) => Number(b.online) - Number(a.online));
}

/**
 * Why a PENDING task of this SPEOS version waits for reasons a person can fix: no worker
 * is online at all, or none of the online ones runs its version. Undefined when some
 * online worker could take it (it waits its turn).
 */
export function queueReason(
  online: WorkerState[],
  version: string | null,
): { code: QueueReasonCode; text: string; params: Record<string, string> } | undefined {
  if (online.length === 0) {
    return { code: 'NO_WORKER_ONLINE', text: renderTaskMessage('NO_WORKER_ONLINE', {}, 'en'), params: {} };
  }
  if (version === null || online.some((w) => w.versions.includes('*') || w.versions.includes(version))) {
    return undefined;
  }
  return {
    code: 'NO_WORKER_FOR_VERSION',
    text: renderTaskMessage('NO_WORKER_FOR_VERSION', { version }, 'en'),
    params: { version },
  };
}
