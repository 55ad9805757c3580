import { TestApi } from '@speos-portal/test-support/api.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MiB = 1024 * 1024;
let portal: TestPortal;
let api: TestApi;

beforeAll(async () => {
  portal = await startTestPortal();
  api = new TestApi(portal.url);
});
afterAll(() => portal.close());

describe('POST /tasks/upload/multipart/init', () => {
  it("answers the original frontend's example request with 100 parts of 5 MiB", async () => {
    const before = Math.floor(Date.now() / 1000);
    const res = await api.init({
      filename: 'model.zip',
      file_size: 524288000,
      file_type: 'master',
      content_type: 'application/zip',
      chunk_size: 5242880,
    });
    expect(res.status).toBe(200);
    const body = res.body;
    expect(body.task_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(body.upload_id).toEqual(expect.any(String));
    expect(body.object_key).toBe(`speos_tasks/${body.task_id}/master/model.zip`);
    expect(body.total_chunks).toBe(100);
    expect(body.chunk_size).toBe(5242880);
    expect(body.expires_at).toBeGreaterThanOrEqual(before + 3600);
    expect(body.expires_at).toBeLessThanOrEqual(before + 3602);
    expect(body.parts).toHaveLength(100);
    expect(body.parts[0]).toMatchObject({ part_number: 1, start_byte: 0, end_byte: 5242880, size: 5242880 });
    expect(body.parts[99]).toMatchObject({ part_number: 100, start_byte: 519045120, end_byte: 524288000 });
    expect(body.parts[0].upload_url).toMatch(new RegExp(`^${portal.url}/storage/uploads/`));
    const task = await api.get(`/tasks/${body.task_id}`);
    expect(task.body.status).toBe('UPLOADING');
  });

  it('uses 5 MiB by default and makes only the last part smaller', async () => {
    const res = await api.init({ filename: 'a.speos', file_size: 12 * MiB + 5 });
    expect(res.status).toBe(200);
    expect(res.body.file_type).toBe('master');
    expect(res.body.parts.map((p: { size: number }) => p.size)).toEqual([5 * MiB, 5 * MiB, 2 * MiB + 5]);
  });

  it('keeps Chinese names and strips folders, so a name can never leave the data directory', async () => {
    const chinese = await api.init({ filename: '车灯 模型（最终版）.zip', file_size: 10 });
    expect(chinese.body.object_key).toBe(`speos_tasks/${chinese.body.task_id}/master/车灯 模型（最终版）.zip`);
    const sneaky = await api.init({ filename: '../../../etc/passwd.zip', file_size: 10 });
    expect(sneaky.body.object_key).toBe(`speos_tasks/${sneaky.body.task_id}/master/passwd.zip`);
    const windows = await api.init({ filename: 'C:\\Users\\李\\model.zip', file_size: 10 });
    expect(windows.body.object_key).toBe(`speos_tasks/${windows.body.task_id}/master/model.zip`);
  });

  it.each([
    [{ file_size: 10 }, 'filename is required'],
    [{ filename: '', file_size: 10 }, 'filename must not be empty'],
    [{ filename: 'a.zip' }, 'file_size is required'],
    [{ filename: 'a.zip', file_size: 0 }, 'file_size must be at least 1'],
    [{ filename: 'a.zip', file_size: 'lots' }, 'file_size must be a whole number'],
    [{ filename: 'a.zip', file_size: 1.5 }, 'file_size must be a whole number'],
    [{ filename: 'a.zip', file_size: 10, chunk_size: MiB }, 'chunk_size must be at least 5242880'],
    [{ filename: 'a.zip', file_size: 10, file_type: 'other' }, 'file_type must be one of "master", "include"'],
    [{ filename: 'a.zip', file_size: 10, task_id: 'abc-123' }, 'task_id must be a UUID'],
    [{ filename: 'bad\nname.zip', file_size: 10 }, 'control characters'],
    [{ filename: '../..', file_size: 10 }, 'no usable file name'],
    [{ filename: 'a.zip', file_size: 10, content_type: 'zip' }, 'content_type: "zip" is not a MIME type'],
    [{ filename: 'a.zip', file_size: 10, content_type: 'text/html\r\nX-Evil: 1' }, 'content_type'],
    [{ filename: 'a.zip', file_size: 10, content_type: 'application/压缩' }, 'content_type'],
    [
      { filename: 'model.step', file_size: 10 },
      'filename: The master file "model.step" is not a type the worker can open',
    ],
    [{ filename: 'inputs.lzh', file_size: 10 }, '.speos, .sv5, .scdocx'],
    [
      { filename: 'archive.zipx', file_size: 10 },
      '.zip, .7z, .rar, .tar, .tar.gz, .tgz, .tar.bz2, .tbz2, .tbz, .tar.xz, .txz, .gz, .bz2, .xz',
    ],
    [{ filename: 'lamp.speos', file_size: 10, file_type: 'include' }, 'The include file "lamp.speos"'],
  ])('refuses %j with 422 naming the field', async (body, message) => {
    const res = await api.init(body);
    expect(res.status).toBe(422);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.detail).toContain(message);
  });

  it('refuses files above the maximum with 413 FILE_TOO_LARGE', async () => {
    const res = await api.init({ filename: 'a.zip', file_size: 524288001 });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ code: 'FILE_TOO_LARGE' });
    expect(res.body.detail).toContain('524288000');
  });

  it('refuses more than 10 000 parts with 413 TOO_MANY_PARTS', async () => {
    const big = await startTestPortal({ MAX_FILE_SIZE: String(100 * 1024 * MiB) });
    try {
      const res = await new TestApi(big.url).init({ filename: 'a.zip', file_size: 60 * 1024 * MiB });
      expect(res.status).toBe(413);
      expect(res.body.code).toBe('TOO_MANY_PARTS');
      expect(res.body.detail).toMatch(/chunk_size of at least \d+/);
    } finally {
      await big.close();
    }
  });

  it('accepts null for optional fields, as frontends written for pydantic send them', async () => {
    const res = await api.init({ filename: 'a.zip', file_size: 10, task_id: null, chunk_size: null });
    expect(res.status).toBe(200);
  });

  it('answers a body that is not JSON with a 4xx, never a 5xx', async () => {
    const notJson = await fetch(`${portal.url}/tasks/upload/multipart/init`, {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: '<init/>',
    });
    expect(notJson.status).toBe(415);
    expect((await notJson.json()).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const broken = await fetch(`${portal.url}/tasks/upload/multipart/init`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"filename": ',
    });
    expect(broken.status).toBe(422);
    expect((await broken.json()).detail).toContain('not valid JSON');
  });

  describe('with task_id', () => {
    it('attaches an include archive to a task that is still uploading', async () => {
      const master = await api.init({ filename: 'm.speos', file_size: 10 });
      const include = await api.init({
        filename: '材质.zip',
        file_size: 10,
        file_type: 'include',
        task_id: master.body.task_id,
      });
      expect(include.status).toBe(200);
      expect(include.body.task_id).toBe(master.body.task_id);
      expect(include.body.object_key).toBe(`speos_tasks/${master.body.task_id}/include/材质.zip`);
    });

    it('refuses a second master while the first is live, and unknown tasks', async () => {
      const master = await api.init({ filename: 'm.speos', file_size: 10 });
      const again = await api.init({ filename: 'n.speos', file_size: 10, task_id: master.body.task_id });
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('INVALID_STATE');
      expect(again.body.detail).toContain(master.body.upload_id);
      const unknown = await api.init({ filename: 'n.speos', file_size: 10, task_id: crypto.randomUUID() });
      expect(unknown.status).toBe(404);
      expect(unknown.body.code).toBe('TASK_NOT_FOUND');
    });
  });
});
