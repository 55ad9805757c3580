/**
 * Where a waiting task stands: its place in the portal's queue (1 = next), and why it
 * waits. A task counts as waiting while it is PENDING, and while its Slurm job waits in
 * Slurm's queue (the task is claimed then, but nothing runs yet). Jobs already in Slurm's
 * queue come first, in the order Slurm numbered them; then the portal's PENDING tasks in
 * the order workers claim them (oldest first, tasks.ts claimNextTask).
 */
import type { Db } from '../db/connect.js';
import type { TaskRow } from '../db/schema.js';
import { anyPoolFull } from '../worker/licenses.js';

export interface QueuePlace {
  position: number;
  reason: string | null;
}

/** A task the API shows as PENDING: not claimed yet, or its Slurm job has not started. */
export function isWaiting(row: Pick<TaskRow, 'status' | 'slurm_state'>): boolean {
  return row.status === 'PENDING' || (row.status === 'RUNNING' && row.slurm_state === 'PENDING');
}

/** Slurm's pending reasons (squeue's state_reason) in words for users. */
const SLURM_REASONS: Record<string, string> = {
  Licenses: 'waiting for a licence',
  Resources: 'waiting for free compute resources',
  Priority: 'waiting behind jobs of higher priority',
  Dependency: 'waiting for another job to finish',
  BeginTime: 'waiting for its start time',
  ReqNodeNotAvail: 'waiting for a compute node that is not available',
  NodeDown: 'waiting for a compute node that is down',
  PartitionDown: 'waiting: the partition is down',
  PartitionInactive: 'waiting: the partition is inactive',
  Reservation: 'waiting for a reservation',
  JobHeldAdmin: 'held by an administrator',
  JobHeldUser: 'held by its owner',
};

export function slurmReasonText(reason: string | null): string {
  if (!reason || reason === 'None') return 'queued in Slurm';
  const known = SLURM_REASONS[reason];
  if (known) return known;
  if (/^(QOS|Assoc)/.test(reason)) return `held back by a limit of the account or QOS (${reason})`;
  return `waiting in Slurm (${reason})`;
}

/** The place of each waiting task among `rows`; one query, and none if no row waits. */
export async function queuePlaces(db: Db, rows: TaskRow[], now: number): Promise<Map<string, QueuePlace>> {
  const places = new Map<string, QueuePlace>();
  if (!rows.some(isWaiting)) return places;
  const waiting = await db
    .selectFrom('tasks')
    .select(['task_id', 'status', 'slurm_state', 'slurm_job_id', 'created_at'])
    .where((eb) =>
      eb.or([eb('status', '=', 'PENDING'), eb.and([eb('status', '=', 'RUNNING'), eb('slurm_state', '=', 'PENDING')])]),
    )
    .execute();
  const inSlurm = (t: (typeof waiting)[number]) => t.status === 'RUNNING';
  waiting.sort((a, b) => {
    if (inSlurm(a) !== inSlurm(b)) return inSlurm(a) ? -1 : 1;
    if (inSlurm(a)) return Number(a.slurm_job_id) - Number(b.slurm_job_id);
    return Number(a.created_at) - Number(b.created_at) || (a.task_id < b.task_id ? -1 : 1);
  });
  const order = new Map(waiting.map((t, i) => [t.task_id, i + 1]));
  // Tasks the portal itself queues wait for a licence while a pool is used up (licenses.ts).
  const portalWaiting = rows.some((r) => r.status === 'PENDING');
  const localReason = portalWaiting && (await anyPoolFull(db, now)) ? 'waiting for a licence' : null;
  for (const row of rows) {
    const position = order.get(row.task_id);
    if (position === undefined || !isWaiting(row)) continue;
    places.set(row.task_id, {
      position,
      reason: row.status === 'RUNNING' ? slurmReasonText(row.slurm_reason) : localReason,
    });
  }
  return places;
}
