import { randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { md5, startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let portal: TestPortal;
let api: TestApi;
const data = randomBytesSeeded(5 * 1024 * 1024 + 999, 9);
const ids: string[] = [];

beforeAll(async () => {
  portal = await startTestPortal();
  api = new TestApi(portal.url);
  // Five submitted tasks (oldest first) and one still uploading.
  for (const [i, [name, submitter]] of [
    ['车灯 A', '张三'],
    ['headlamp B', 'li'],
    ['车灯 C', '张三'],
    ['50% test', 'li'],
    ['tail_light', '张三'],
  ].entries()) {
    const { init } = await api.uploadFile(data, { filename: `m${i}.speos` });
    await api.post('/tasks/upload/confirm', {
      task_id: init.task_id,
      master_object_key: init.object_key,
      job_name: name,
      submitter,
    });
    ids.push(init.task_id);
  }
  ids.push((await api.init({ filename: 'late.speos', file_size: 10 })).body.task_id);
});
afterAll(() => portal.close());

describe('GET /tasks', () => {
  it('lists newest first with paging, every status when asked for all', async () => {
    const all = 'status=UPLOADING,PENDING,RUNNING,SUCCESS,FAILURE,CANCELLED,ABORTED,EXPIRED';
    const first = await api.get(`/tasks?page=1&page_size=4&${all}`);
    expect(first.status).toBe(200);
    expect(first.body.total).toBe(6);
    expect(first.body.page).toBe(1);
    expect(first.body.page_size).toBe(4);
    expect(first.body.items.map((t: { task_id: string }) => t.task_id)).toEqual([...ids].reverse().slice(0, 4));
    const second = await api.get(`/tasks?page=2&page_size=4&${all}`);
    expect(second.body.items.map((t: { task_id: string }) => t.task_id)).toEqual([ids[1], ids[0]]);
    const beyond = await api.get(`/tasks?page=9&${all}`);
    expect(beyond.body.items).toEqual([]);
    expect(beyond.body.total).toBe(6);
  });

  it('lists only submitted tasks without a status filter: an unconfirmed upload has no job yet', async () => {
    const plain = await api.get('/tasks');
    expect(plain.body.total).toBe(5);
    expect(plain.body.items.map((t: { task_id: string }) => t.task_id)).toEqual(ids.slice(0, 5).reverse());
    expect(plain.body.items.every((t: { job_name: string | null }) => t.job_name !== null)).toBe(true);
    const second = await api.get('/tasks?page=2&page_size=3');
    expect(second.body.items.map((t: { task_id: string }) => t.task_id)).toEqual([ids[1], ids[0]]);
  });

  it('filters by status, submitter and name (wildcards are literal)', async () => {
    const uploading = await api.get('/tasks?status=UPLOADING');
    expect(uploading.body.items.map((t: { task_id: string }) => t.task_id)).toEqual([ids[5]]);
    const several = await api.get('/tasks?status=pending,uploading');
    expect(several.body.total).toBe(6);
    const zhang = await api.get(`/tasks?submitter=${encodeURIComponent('张三')}`);
    expect(zhang.body.items.map((t: { job_name: string }) => t.job_name)).toEqual(['tail_light', '车灯 C', '车灯 A']);
    const named = await api.get(`/tasks?q=${encodeURIComponent('车灯')}`);
    expect(named.body.total).toBe(2);
    const percent = await api.get(`/tasks?q=${encodeURIComponent('50%')}`);
    expect(percent.body.items.map((t: { job_name: string }) => t.job_name)).toEqual(['50% test']);
    const underscore = await api.get('/tasks?q=l_l');
    expect(underscore.body.items.map((t: { job_name: string }) => t.job_name)).toEqual(['tail_light']);
  });

  it('refuses bad query values with 422', async () => {
    for (const query of ['page=0', 'page_size=101', 'page=x', 'status=DONE']) {
      const res = await api.get(`/tasks?${query}`);
      expect(res.status, query).toBe(422);
      expect(res.body.code).toBe('VALIDATION_FAILED');
    }
    expect((await api.get('/tasks?status=DONE')).body.detail).toContain('DONE is not a task status');
    expect((await api.get('/tasks?page=0')).body.detail).toContain('page must be at least 1 (in the query string)');
  });
});

describe('GET /tasks/{id}, /detail, /files', () => {
  it('returns one task with every field of the API', async () => {
    const res = await api.get(`/tasks/${ids[0]}`);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(
      [
        'task_id',
        'status',
        'job_name',
        'display_name',
        'submitter',
        'solver_type',
        'profile_name',
        'version',
        'ansys_release',
        'thread_count',
        'priority',
        'params',
        'master',
        'include',
        'created_at',
        'updated_at',
        'started_at',
        'finished_at',
        'elapsed_seconds',
        'duration',
        'progress_info',
        'message',
        'error_detail',
        'parent_task_id',
        'retry_count',
        'retried_task_ids',
        'download_url',
        'download_name',
        // Retention (issue 17): pinned, and when files and log were deleted (null: kept).
        'pinned',
        'files_expired_at',
        'logs_expired_at',
        'queue_position',
        'queue_reason',
        'slurm_job_id',
        'queue_reason_code',
        'message_code',
        'message_params',
      ].sort(),
    );
    expect(res.body).toMatchObject({ pinned: false, files_expired_at: null, logs_expired_at: null });
    expect(res.body.created_at).toBeGreaterThan(1_700_000_000);
    expect(res.body.created_at).toBeLessThan(Date.now() / 1000 + 1);
  });

  it('returns the status history in order', async () => {
    const res = await api.get(`/tasks/${ids[0]}/detail`);
    expect(res.body.status_history.map((h: { status: string }) => h.status)).toEqual(['UPLOADING', 'PENDING']);
    expect(res.body.status_history[1].at).toBeGreaterThanOrEqual(res.body.status_history[0].at);
  });

  it('downloads the master exactly as stored, with its UTF-8 name and ranges', async () => {
    const { init } = await api.uploadFile(data, { filename: '前照灯 v2.speos' });
    const res = await fetch(`${portal.url}/tasks/${init.task_id}/files/master`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(data.length));
    expect(res.headers.get('content-disposition')).toBe(
      `attachment; filename="___ v2.speos"; filename*=UTF-8''${encodeURIComponent('前照灯 v2.speos')}`,
    );
    expect(md5(Buffer.from(await res.arrayBuffer()))).toBe(md5(data));
    // A range across the part boundary.
    const range = await fetch(`${portal.url}/tasks/${init.task_id}/files/master`, {
      headers: { range: 'bytes=5242870-5242899' },
    });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-range')).toBe(`bytes 5242870-5242899/${data.length}`);
    expect(Buffer.from(await range.arrayBuffer()).equals(data.subarray(5242870, 5242900))).toBe(true);
    const outside = await fetch(`${portal.url}/tasks/${init.task_id}/files/master`, {
      headers: { range: `bytes=${data.length}-` },
    });
    expect(outside.status).toBe(416);
  });

  it('answers 404 for unknown tasks or files and 409 for unfinished uploads, 422 for bad ids', async () => {
    expect((await api.get(`/tasks/${crypto.randomUUID()}`)).body.code).toBe('TASK_NOT_FOUND');
    expect((await api.get(`/tasks/${crypto.randomUUID()}/detail`)).status).toBe(404);
    expect((await api.get(`/tasks/${ids[0]}/files/include`)).status).toBe(404);
    expect((await api.get(`/tasks/${ids[5]}/files/master`)).body.code).toBe('UPLOAD_NOT_COMPLETED');
    expect((await api.get(`/tasks/${ids[0]}/files/other`)).status).toBe(422);
    const bad = await api.get('/tasks/not-a-uuid');
    expect(bad.status).toBe(422);
    expect(bad.body.detail).toContain('task_id must be a UUID');
  });
});

describe('queue position', () => {
  it("shows each PENDING task's place in the queue, oldest first; none for other tasks", async () => {
    const listed = (await api.get('/tasks')).body.items as { task_id: string; queue_position: number | null }[];
    const places = new Map(listed.map((t) => [t.task_id, t.queue_position]));
    expect(ids.slice(0, 5).map((id) => places.get(id))).toEqual([1, 2, 3, 4, 5]);
    const detail = (await api.get(`/tasks/${ids[2]}/detail`)).body;
    expect(detail).toMatchObject({ status: 'PENDING', queue_position: 3, slurm_job_id: null });
    // Without Slurm and without a licence pool, what holds it is that this portal runs no worker.
    expect(detail).toMatchObject({ queue_reason_code: 'NO_WORKER_ONLINE' });
    expect(detail.queue_reason).toMatch(/^No worker is online/);
    const uploading = (await api.get(`/tasks/${ids[5]}`)).body;
    expect(uploading.queue_position).toBeNull();
  });
});
