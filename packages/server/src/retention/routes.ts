/** PUT /tasks/{id}/pin and DELETE /tasks/{id}/pin: keep a task's files and log from retention. */
import { ApiError, PinResponse, TaskIdParams } from '@speos-portal/protocol';
import type { FastifyPluginAsync } from 'fastify';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connect.js';
import { errorResponses } from '../http/openapi.js';
import { findTask, type Owner } from '../tasks/repository.js';
import { assertFilesKept } from './guards.js';

/** Pins or unpins; a pin after retention took the files is refused (they are gone). */
export async function setPinned(db: Db, owner: Owner, taskId: string, pinned: boolean, clock: Clock) {
  const task = await findTask(db, taskId, owner);
  if (!task) throw new ApiError('TASK_NOT_FOUND', `Task ${taskId} does not exist.`);
  if (!pinned) {
    await db.updateTable('tasks').set({ pinned: 0 }).where('task_id', '=', taskId).execute();
    return { task_id: taskId, pinned: false };
  }
  // Compare-and-set against the sweep, which marks only unpinned tasks: one of the two wins.
  const result = await db
    .updateTable('tasks')
    .set({ pinned: 1, updated_at: clock() })
    .where('task_id', '=', taskId)
    .where('files_expired_at', 'is', null)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) {
    assertFilesKept((await findTask(db, taskId, owner)) ?? task);
  }
  return { task_id: taskId, pinned: true };
}

export const pinRoutes: FastifyPluginAsync<{ db: Db; clock: Clock; hide: boolean }> = async (
  app,
  { db, clock, hide },
) => {
  const tags = ['tasks'];
  for (const [method, pinned] of [
    ['PUT', true],
    ['DELETE', false],
  ] as const) {
    app.route({
      method,
      url: '/tasks/:task_id/pin',
      schema: {
        hide,
        tags,
        summary: pinned
          ? 'Pin a task: retention keeps its files and log (FILES_RETENTION_DAYS, LOG_RETENTION_DAYS)'
          : 'Unpin a task: retention may delete its files again once they are due',
        params: TaskIdParams,
        response: {
          200: PinResponse,
          ...errorResponses(['TASK_NOT_FOUND', ...(pinned ? (['FILES_EXPIRED'] as const) : [])]),
        },
      },
      handler: async (request) =>
        setPinned(db, request.taskScope, (request.params as { task_id: string }).task_id, pinned, clock),
    });
  }
};
