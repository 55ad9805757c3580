/**
 * The rows `presentTask` needs beside a task's own row: its uploads and the tasks retried
 * from it. Apart from repository.ts because the notification outbox (notify/events.ts),
 * which repository.ts calls when it appends history, needs them too: one module each way
 * would be an import cycle.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database, UploadRow } from '../db/schema.js';

type Executor = Kysely<Database> | Transaction<Database>;

export async function findUploadsById(db: Executor, uploadIds: string[]): Promise<Map<string, UploadRow>> {
  if (uploadIds.length === 0) return new Map();
  const rows = await db.selectFrom('uploads').selectAll().where('upload_id', 'in', uploadIds).execute();
  return new Map(rows.map((r) => [r.upload_id, r]));
}

export async function retriedTaskIds(db: Executor, taskIds: string[]): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>();
  if (taskIds.length === 0) return result;
  const rows = await db
    .selectFrom('tasks')
    .select(['task_id', 'parent_task_id'])
    .where('parent_task_id', 'in', taskIds)
    .orderBy('created_at')
    .execute();
  for (const row of rows) {
    const list = result.get(row.parent_task_id!) ?? [];
    list.push(row.task_id);
    result.set(row.parent_task_id!, list);
  }
  return result;
}
