/**
 * The notes real runs leave (status history, a task's message) come with a code and
 * parameters, so clients can show them in the user's language. A real portal with an
 * in-process worker; the solver is the TEST DOUBLE fake-speos.mjs (SPEOS cannot be
 * installed here).
 */
import { TestApi } from '@speos-portal/test-support/api.js';
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

describe('message codes of real runs', () => {
  let portal: TestPortal;
  let api: TestApi;
  beforeAll(async () => {
    portal = await startTestPortal({
      SPEOS_COMMAND_V252: `${process.execPath} ${FAKE} {master}`,
      WORKER_ID: 'lab-9',
      WORKER_STOP_GRACE_SECONDS: '2',
    });
    api = new TestApi(portal.url);
  });
  afterAll(() => portal.close());

  const submit = async (plan: Record<string, unknown>) => {
    const { init } = await api.uploadFile(Buffer.from(JSON.stringify(plan)), { filename: 'model.speos' });
    const res = await api.post('/tasks/upload/confirm', {
      task_id: init.task_id,
      master_object_key: init.object_key,
      job_name: 'codes',
    });
    expect(res.status).toBe(200);
    return init.task_id as string;
  };
  const detail = async (id: string) => (await api.get(`/tasks/${id}/detail`)).body;
  const until = async (id: string, status: string) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const task = await detail(id);
      if (task.status === status) return task;
      if (Date.now() > deadline) throw new Error(`task ${id} is ${task.status}, not ${status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('codes a failed run: submitted, claimed by the worker, SPEOS exit code', async () => {
    const task = await until(await submit({ passes: 1, exit: 3 }), 'FAILURE');
    expect(task).toMatchObject({
      message: 'SPEOS stopped with exit code 3',
      message_code: 'SOLVER_EXIT_CODE',
      message_params: { exit_code: '3' },
    });
    expect(task.status_history.map((h: { code: string | null }) => h.code)).toEqual([
      null,
      'SUBMITTED',
      'CLAIMED',
      'SOLVER_EXIT_CODE',
    ]);
    expect(task.status_history[2]).toMatchObject({ message: 'claimed by lab-9', params: { worker: 'lab-9' } });
  });

  it('codes a stopped run and a task stopped before it started', async () => {
    const running = await submit({ hang: true });
    await until(running, 'RUNNING');
    const pending = await submit({ passes: 1 });
    expect((await api.post(`/tasks/${pending}/stop`, {})).status).toBe(200);
    expect(await detail(pending)).toMatchObject({ message_code: 'STOPPED_BEFORE_START', message_params: {} });
    expect((await api.post(`/tasks/${running}/stop`, {})).status).toBe(200);
    const stopped = await detail(running);
    expect(stopped).toMatchObject({ status: 'CANCELLED', message_code: 'STOPPED_BY_REQUEST' });
    expect(stopped.status_history.at(-1)).toMatchObject({ status: 'CANCELLED', code: 'STOPPED_BY_REQUEST' });
  });

  it('has null codes for a task without a message', async () => {
    const task = await until(await submit({ passes: 1 }), 'SUCCESS');
    expect(task).toMatchObject({ message: null, message_code: null, message_params: null });
  });
});
