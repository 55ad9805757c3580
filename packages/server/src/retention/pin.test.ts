/**
 * Bad pins on a real portal with two users: another person's task, a task that does not
 * exist and an id that is not one are refused with the error envelope, and change nothing.
 */

import { TestApi } from '@speos-portal/test-support/api.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const TOKENS = { alice: 'alice-token-0123456789', bob: 'bob-token-0123456789ab' };

describe('PUT and DELETE /tasks/{id}/pin: bad inputs', () => {
  let portal: TestPortal;
  const as = (user: keyof typeof TOKENS) => new TestApi(portal.url, TOKENS[user]);
  const pinned = async (taskId: string) =>
    Number(
      (await portal.db.selectFrom('tasks').select('pinned').where('task_id', '=', taskId).executeTakeFirstOrThrow())
        .pinned,
    );

  beforeAll(async () => {
    portal = await startTestPortal({
      AUTH_TOKENS: `${TOKENS.alice}:alice,${TOKENS.bob}:bob`,
      FILES_RETENTION_DAYS: '30',
    });
  });
  afterAll(async () => {
    await portal?.close();
  });

  it("refuses another person's task as if it did not exist, and leaves it as it was", async () => {
    const taskId = (await as('alice').init({ filename: 'a.speos', file_size: 10 })).body.task_id as string;
    const bob = as('bob');
    for (const method of ['PUT', 'DELETE']) {
      const res = await bob.request(method, `/tasks/${taskId}/pin`);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: 'TASK_NOT_FOUND', detail: expect.stringContaining(taskId) });
    }
    expect(await pinned(taskId)).toBe(0);
    // Alice's own pin still works, and Bob cannot take it off.
    expect((await as('alice').request('PUT', `/tasks/${taskId}/pin`)).body).toEqual({ task_id: taskId, pinned: true });
    expect((await bob.request('DELETE', `/tasks/${taskId}/pin`)).status).toBe(404);
    expect(await pinned(taskId)).toBe(1);
  });

  it('answers 404 for a task that does not exist and 422 for an id that is not one', async () => {
    const alice = as('alice');
    const unknown = await alice.request('PUT', '/tasks/00000000-0000-4000-8000-000000000000/pin');
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('TASK_NOT_FOUND');
    const malformed = await alice.request('PUT', '/tasks/not-a-task/pin');
    expect(malformed.status).toBe(422);
    expect(malformed.body).toMatchObject({ code: 'VALIDATION_FAILED', detail: expect.any(String) });
  });
});
