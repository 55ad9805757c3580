/**
 * The durable outbox of task notifications: a status change worth telling (RUNNING,
 * SUCCESS, FAILURE, CANCELLED) is written as a notification_events row in the same
 * transaction (or right after, where the caller has none) as the status-history entry it
 * comes from — keyed by that entry's seq, so a task's events keep their order. What the
 * task looked like then (as GET /tasks/{id} shows it) is stored with it. The dispatcher
 * (dispatcher.ts) turns events into deliveries and sends them.
 */
import type { TaskStatus } from '@speos-portal/protocol';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import { presentTask } from '../tasks/present.js';
import { findUploadsById, retriedTaskIds } from '../tasks/presentation-rows.js';

type Executor = Kysely<Database> | Transaction<Database>;

export const TASK_EVENTS: Partial<Record<TaskStatus, string>> = {
  RUNNING: 'task.running',
  SUCCESS: 'task.succeeded',
  FAILURE: 'task.failed',
  CANCELLED: 'task.cancelled',
};

/** Called for every status-history entry; records an event for the four that are told. */
export async function recordTaskEvent(
  db: Executor,
  taskId: string,
  seq: number,
  status: TaskStatus,
  at: number,
): Promise<void> {
  const event = TASK_EVENTS[status];
  if (!event) return;
  const row = await db.selectFrom('tasks').selectAll().where('task_id', '=', taskId).executeTakeFirst();
  if (!row) return;
  const ids = [row.master_upload_id, row.include_upload_id].filter((id): id is string => !!id);
  const uploads = await findUploadsById(db, ids);
  const retried = (await retriedTaskIds(db, [taskId])).get(taskId) ?? [];
  const task = presentTask(row, uploads, retried, at);
  await db
    .insertInto('notification_events')
    .values({
      task_id: taskId,
      seq,
      event,
      owner: row.owner,
      payload: JSON.stringify(task),
      created_at: at,
    })
    .execute();
}
