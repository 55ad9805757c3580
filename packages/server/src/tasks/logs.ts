/**
 * The solver's console output, kept in the database in chunks with their byte offsets,
 * so any API server can serve `GET /tasks/{id}/logs?offset=N` for a worker elsewhere.
 */
import type { Db } from '../db/connect.js';

/**
 * Appends text to a task's log; returns the new log size in bytes. With `expectedStart`
 * (the size the writer believes the log has) a repeated write is recognised: when the log is
 * already `expectedStart + text` long, the earlier attempt committed but its answer was lost
 * (the connection dropped), and nothing is written twice.
 */
export async function appendLog(db: Db, taskId: string, text: string, expectedStart?: number): Promise<number> {
  const bytes = Buffer.byteLength(text);
  if (text === '') return expectedStart ?? 0;
  return db.transaction().execute(async (trx) => {
    const task = await trx.selectFrom('tasks').select('log_size').where('task_id', '=', taskId).executeTakeFirst();
    const start = Number(task?.log_size ?? 0);
    if (expectedStart !== undefined && start !== expectedStart && start === expectedStart + bytes) return start;
    const last = await trx
      .selectFrom('task_logs')
      .select((eb) => eb.fn.max('seq').as('seq'))
      .where('task_id', '=', taskId)
      .executeTakeFirst();
    await trx
      .insertInto('task_logs')
      .values({ task_id: taskId, seq: Number(last?.seq ?? 0) + 1, start, data: text })
      .execute();
    await trx
      .updateTable('tasks')
      .set({ log_size: start + bytes })
      .where('task_id', '=', taskId)
      .execute();
    return start + bytes;
  });
}

/** Log bytes from `offset` (at most `limit`), as text; `next` is where to ask next time. */
export async function readLog(
  db: Db,
  taskId: string,
  offset: number,
  limit = 1024 * 1024,
): Promise<{ text: string; next: number; size: number }> {
  const task = await db.selectFrom('tasks').select('log_size').where('task_id', '=', taskId).executeTakeFirst();
  const size = Number(task?.log_size ?? 0);
  if (offset >= size) return { text: '', next: Math.max(offset, size), size };
  // Start at the chunk that holds `offset`, not at the beginning: following a long log
  // must not read it all again on every poll.
  const first = await db
    .selectFrom('task_logs')
    .select('start')
    .where('task_id', '=', taskId)
    .where('start', '<=', offset)
    .orderBy('start', 'desc')
    .limit(1)
    .executeTakeFirst();
  const chunks = await db
    .selectFrom('task_logs')
    .select(['start', 'data'])
    .where('task_id', '=', taskId)
    .where('start', '>=', Number(first?.start ?? 0))
    .where('start', '<', offset + limit)
    .orderBy('seq')
    .execute();
  const pieces: Buffer[] = [];
  for (const chunk of chunks) {
    const data = Buffer.from(chunk.data);
    const start = Number(chunk.start);
    if (start + data.length <= offset) continue;
    pieces.push(data.subarray(Math.max(offset - start, 0)));
  }
  const all = Buffer.concat(pieces);
  // Never cut a UTF-8 character in half: end before a continuation byte…
  let end = Math.min(limit, all.length);
  while (end > 0 && end < all.length && (all[end]! & 0xc0) === 0x80) end--;
  // …but always move forward: a limit smaller than one character still returns that character.
  if (end === 0 && all.length > 0) {
    end = 1;
    while (end < all.length && (all[end]! & 0xc0) === 0x80) end++;
  }
  const bytes = all.subarray(0, end);
  return { text: bytes.toString('utf8'), next: offset + bytes.length, size };
}

/** The last `bytes` of a log, for a failure's error_detail. */
export async function logTail(db: Db, taskId: string, bytes = 4000): Promise<string> {
  const task = await db.selectFrom('tasks').select('log_size').where('task_id', '=', taskId).executeTakeFirst();
  const size = Number(task?.log_size ?? 0);
  const { text } = await readLog(db, taskId, Math.max(0, size - bytes), bytes);
  // The cut may land inside a character; drop what is not valid text at the start.
  return text.replace(/^\uFFFD+/, '');
}
