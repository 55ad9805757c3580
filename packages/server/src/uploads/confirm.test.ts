import { randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let portal: TestPortal;
let api: TestApi;
const data = randomBytesSeeded(6 * 1024 * 1024, 5);

beforeAll(async () => {
  portal = await startTestPortal({ SPEOS_VERSIONS: 'v252,v251', MAX_THREAD_COUNT: '32' });
  api = new TestApi(portal.url);
});
afterAll(() => portal.close());

const confirm = (body: unknown) => api.post('/tasks/upload/confirm', body);

/** The original frontend's confirm example (docs/architecture.md), for a given upload. */
const seedConfirm = (init: { task_id: string; object_key: string }) => ({
  task_id: init.task_id,
  master_object_key: init.object_key,
  profile_name: 'Standard',
  version: 'v252',
  job_name: '任务名',
  submitter: '提交者',
  thread_count: '8',
  priority: '2',
});

describe('POST /tasks/upload/confirm', () => {
  it("queues the task with the original frontend's example values (numbers as strings)", async () => {
    const { init } = await api.uploadFile(data, { filename: 'model.zip', content_type: 'application/zip' });
    const res = await confirm(seedConfirm(init));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ task_id: init.task_id, status: 'PENDING', message: 'Task submitted' });
    const task = (await api.get(`/tasks/${init.task_id}`)).body;
    expect(task).toMatchObject({
      status: 'PENDING',
      job_name: '任务名',
      display_name: '任务名',
      submitter: '提交者',
      profile_name: 'Standard',
      version: 'v252',
      thread_count: 8,
      priority: 2,
      solver_type: 'speos',
      master: { filename: 'model.zip', size: data.length, upload_status: 'COMPLETED' },
    });
  });

  it('stores the optional solver options in params and applies defaults', async () => {
    const { init } = await api.uploadFile(data);
    const res = await confirm({
      task_id: init.task_id,
      master_object_key: init.object_key,
      job_name: 'headlamp',
      use_gpu: true,
      ray_count: '1000000',
      simulation_index: 0,
      walltime_hours: 2.5,
    });
    expect(res.status).toBe(200);
    const task = (await api.get(`/tasks/${init.task_id}`)).body;
    expect(task.params).toEqual({ use_gpu: true, ray_count: 1000000, simulation_index: 0, walltime_hours: 2.5 });
    expect(task).toMatchObject({ profile_name: 'Standard', version: 'v252', thread_count: 8, priority: 2 });
  });

  it('answers a repeated confirm the same way and never queues twice, even when sent at once', async () => {
    const { init } = await api.uploadFile(data);
    const answers = await Promise.all(Array.from({ length: 8 }, () => confirm(seedConfirm(init))));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    const history = (await api.get(`/tasks/${init.task_id}/detail`)).body.status_history;
    expect(history.filter((h: { status: string }) => h.status === 'PENDING')).toHaveLength(1);
    const different = await confirm({ ...seedConfirm(init), job_name: 'other' });
    expect(different.status).toBe(409);
    expect(different.body.code).toBe('ALREADY_CONFIRMED');
  });

  it('refuses a master that is not completed, and unknown tasks or keys', async () => {
    const init = (await api.init({ filename: 'a.speos', file_size: data.length })).body;
    const notDone = await confirm(seedConfirm(init));
    expect(notDone.status).toBe(409);
    expect(notDone.body.code).toBe('UPLOAD_NOT_COMPLETED');
    const unknownTask = await confirm({ ...seedConfirm(init), task_id: crypto.randomUUID() });
    expect(unknownTask.status).toBe(404);
    expect(unknownTask.body.code).toBe('TASK_NOT_FOUND');
    const wrongKey = await confirm({ ...seedConfirm(init), master_object_key: 'speos_tasks/x/master/y.zip' });
    expect(wrongKey.status).toBe(404);
    expect(wrongKey.body.code).toBe('NO_SUCH_UPLOAD');
  });

  it.each([
    [{ job_name: undefined }, 'job_name is required'],
    [{ job_name: '' }, 'job_name must not be empty'],
    [{ job_name: '   ' }, 'job_name: must not be blank'],
    [{ job_name: 'x'.repeat(201) }, 'job_name must be at most 200 characters'],
    [{ version: 'v999' }, 'choose one of v252, v251'],
    [
      { profile_name: 'Foo' },
      'profile_name: "Foo" is not a profile of this portal; choose one of "Standard", "High Quality", "Fast Preview"',
    ],
    [{ thread_count: 0 }, 'thread_count must be at least 1'],
    [{ thread_count: '64' }, 'thread_count: must be at most 32'],
    [{ thread_count: 'eight' }, 'thread_count must be a whole number'],
    [{ priority: 6 }, 'priority must be at most 5'],
    [{ priority: -1 }, 'priority must be at least 0'],
    [{ use_gpu: 'maybe' }, 'use_gpu must be of type boolean'],
    [{ solver_type: 'fred' }, 'solver_type: "fred" is not run by this portal; it runs speos only'],
  ])('refuses %j with 422 and leaves the task UPLOADING', async (change, message) => {
    const { init } = await api.uploadFile(data);
    const res = await confirm({ ...seedConfirm(init), ...change });
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.detail).toContain(message);
    expect((await api.get(`/tasks/${init.task_id}`)).body.status).toBe('UPLOADING');
  });

  it('takes a configured profile in any case, spelled as configured; none is the first profile', async () => {
    const { init } = await api.uploadFile(data);
    expect((await confirm({ ...seedConfirm(init), profile_name: ' high quality ' })).status).toBe(200);
    expect((await api.get(`/tasks/${init.task_id}`)).body.profile_name).toBe('High Quality');
    const second = await api.uploadFile(data);
    expect((await confirm({ ...seedConfirm(second.init), profile_name: undefined })).status).toBe(200);
    expect((await api.get(`/tasks/${second.init.task_id}`)).body.profile_name).toBe('Standard');
  });

  describe('include archives', () => {
    it('uses an include uploaded as its own task; that placeholder task is absorbed', async () => {
      const include = await api.uploadFile(data, { filename: '材质库.zip', file_type: 'include' });
      expect(include.init.object_key).toBe(`speos_tasks/${include.init.task_id}/include/材质库.zip`);
      const { init } = await api.uploadFile(data);
      const res = await confirm({ ...seedConfirm(init), include_object_key: include.init.object_key });
      expect(res.status).toBe(200);
      const task = (await api.get(`/tasks/${init.task_id}`)).body;
      expect(task.include).toMatchObject({ filename: '材质库.zip', object_key: include.init.object_key });
      expect((await api.get(`/tasks/${include.init.task_id}`)).status).toBe(404);
      const download = await fetch(`${portal.url}/tasks/${init.task_id}/files/include`);
      expect(Buffer.from(await download.arrayBuffer()).equals(data)).toBe(true);
    });

    it('uses an include attached to the task with task_id', async () => {
      const { init } = await api.uploadFile(data);
      const include = await api.uploadFile(data, { filename: 'inc.zip', file_type: 'include', task_id: init.task_id });
      const res = await confirm({ ...seedConfirm(init), include_object_key: include.init.object_key });
      expect(res.status).toBe(200);
      expect((await api.get(`/tasks/${init.task_id}`)).body.include.filename).toBe('inc.zip');
    });

    it('uses an attached include when confirm names none, unless it was aborted or is unfinished', async () => {
      const { init } = await api.uploadFile(data);
      const include = await api.uploadFile(data, { filename: 'inc.zip', file_type: 'include', task_id: init.task_id });
      expect((await confirm(seedConfirm(init))).status).toBe(200);
      expect((await api.get(`/tasks/${init.task_id}`)).body.include.upload_id).toBe(include.init.upload_id);

      const second = await api.uploadFile(data);
      const aborted = await api.uploadFile(data, {
        filename: 'inc.zip',
        file_type: 'include',
        task_id: second.init.task_id,
      });
      await api.post('/tasks/upload/multipart/abort', aborted.ref);
      expect((await confirm(seedConfirm(second.init))).status).toBe(200);
      expect((await api.get(`/tasks/${second.init.task_id}`)).body.include).toBeNull();

      const third = await api.uploadFile(data);
      await api.init({ filename: 'inc.zip', file_size: 10, file_type: 'include', task_id: third.init.task_id });
      const unfinished = await confirm(seedConfirm(third.init));
      expect(unfinished.status).toBe(409);
      expect(unfinished.body.code).toBe('UPLOAD_NOT_COMPLETED');
    });

    it('refuses an include that is unfinished or unknown', async () => {
      const unfinished = (await api.init({ filename: 'inc.zip', file_size: 10, file_type: 'include' })).body;
      const { init } = await api.uploadFile(data);
      const res = await confirm({ ...seedConfirm(init), include_object_key: unfinished.object_key });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe('UPLOAD_NOT_COMPLETED');
      const unknown = await confirm({ ...seedConfirm(init), include_object_key: 'speos_tasks/a/include/b.zip' });
      expect(unknown.status).toBe(404);
      expect(unknown.body.code).toBe('NO_SUCH_UPLOAD');
      const masterAsInclude = await confirm({ ...seedConfirm(init), include_object_key: init.object_key });
      expect(masterAsInclude.status).toBe(404);
    });
  });
});
