import { createHash } from 'node:crypto';
import { MiB, randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { md5, startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let portal: TestPortal;
let api: TestApi;
const data = randomBytesSeeded(16 * MiB + 123, 3); // 4 parts: 5, 5, 5, 1 MiB + 123

beforeAll(async () => {
  portal = await startTestPortal();
  api = new TestApi(portal.url);
});
afterAll(() => portal.close());

const complete = (body: unknown) => api.post('/tasks/upload/multipart/complete', body);

describe('POST /tasks/upload/multipart/complete', () => {
  it('assembles the parts: size and S3-style ETag, then the file downloads byte-identical', async () => {
    const { ref, parts } = await api.uploadParts(data);
    const res = await complete({ ...ref, file_type: 'master', parts });
    expect(res.status).toBe(200);
    const binaryMd5s = Buffer.concat(parts.map((p) => Buffer.from(p.etag, 'hex')));
    expect(res.body).toEqual({
      task_id: ref.task_id,
      object_key: ref.object_key,
      file_type: 'master',
      size: data.length,
      etag: `${createHash('md5').update(binaryMd5s).digest('hex')}-4`,
      message: 'Upload completed',
    });
    const download = await fetch(`${portal.url}/tasks/${ref.task_id}/files/master`);
    expect(md5(Buffer.from(await download.arrayBuffer()))).toBe(md5(data));
  });

  it('accepts quoted ETags and returns the same 200 when called again', async () => {
    const { ref, parts } = await api.uploadParts(data);
    const quoted = parts.map((p) => ({ ...p, etag: `"${p.etag}"` }));
    const first = await complete({ ...ref, parts: quoted });
    const second = await complete({ ...ref, parts });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    const other = await complete({
      ...ref,
      parts: parts.map((p, i) => (i === 0 ? { ...p, etag: 'a'.repeat(32) } : p)),
    });
    expect(other.status).toBe(409);
    expect(other.body.code).toBe('UPLOAD_ALREADY_COMPLETED');
  });

  it('lets only one of many concurrent completes do the work; all get the same answer', async () => {
    const { ref, parts } = await api.uploadParts(data);
    const answers = await Promise.all(Array.from({ length: 6 }, () => complete({ ...ref, parts })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(new Set(answers.map((a) => a.body.etag)).size).toBe(1);
  });

  describe('refuses a bad part list with 400 and completes nothing', () => {
    let ref: Record<string, string>;
    let parts: { part_number: number; etag: string }[];
    beforeAll(async () => {
      ({ ref, parts } = await api.uploadParts(data));
    });

    it.each([
      ['unsorted', () => [parts[1], parts[0], parts[2], parts[3]], 'INVALID_PART_ORDER', 'sorted by part_number'],
      [
        'a duplicate',
        () => [parts[0], parts[1], parts[1], parts[2], parts[3]],
        'DUPLICATE_PART',
        'Part 2 is listed twice',
      ],
      ['missing parts', () => [parts[0], parts[3]], 'MISSING_PARTS', 'lacks parts 2, 3'],
      [
        'a part beyond the file',
        () => [...parts, { part_number: 5, etag: parts[0]!.etag }],
        'INVALID_PART',
        'parts 1…4',
      ],
      [
        'a wrong ETag',
        () => parts.map((p) => (p.part_number === 3 ? { ...p, etag: '0'.repeat(32) } : p)),
        'ETAG_MISMATCH',
        'Part 3',
      ],
    ])('%s', async (_name, list, code, detail) => {
      const res = await complete({ ...ref, parts: list() });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe(code);
      expect(res.body.detail).toContain(detail);
      const listed = await api.post('/tasks/upload/multipart/list', ref);
      expect(listed.status).toBe(200);
      expect((await api.get(`/tasks/${ref.task_id}`)).body.master.upload_status).toBe('UPLOADING');
    });
  });

  it('names parts that were never uploaded', async () => {
    const init = (await api.init({ filename: 'a.speos', file_size: data.length })).body;
    const p1 = init.parts[0];
    const put = await api.putPart(p1.upload_url, data.subarray(p1.start_byte, p1.end_byte));
    const fake = [2, 3, 4].map((n) => ({ part_number: n, etag: '1'.repeat(32) }));
    const res = await complete({ ...init, parts: [{ part_number: 1, etag: put.etag }, ...fake] });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('MISSING_PARTS');
    expect(res.body.detail).toContain('parts 2, 3, 4');
    expect(res.body.missing_parts).toEqual([2, 3, 4]);
  });

  it('refuses unknown uploads, mismatched ids and the wrong file_type', async () => {
    const { ref, parts } = await api.uploadParts(data);
    const unknown = await complete({ ...ref, upload_id: 'nope', parts });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('NO_SUCH_UPLOAD');
    const otherKey = await complete({ ...ref, object_key: 'speos_tasks/x/master/y.zip', parts });
    expect(otherKey.status).toBe(404);
    const wrongType = await complete({ ...ref, file_type: 'include', parts });
    expect(wrongType.status).toBe(422);
    expect(wrongType.body.detail).toContain('file_type');
    const empty = await complete({ ...ref, parts: [] });
    expect(empty.status).toBe(422);
    const badNumber = await complete({ ...ref, parts: [{ part_number: 0, etag: 'x' }] });
    expect(badNumber.status).toBe(422);
    expect(badNumber.body.detail).toContain('parts[0].part_number must be at least 1');
  });
});

describe('POST /tasks/upload/multipart/list', () => {
  it('lists stored parts ascending with unquoted ETags and sizes', async () => {
    const init = (await api.init({ filename: 'a.speos', file_size: data.length })).body;
    for (const part of [init.parts[3], init.parts[0]]) {
      await api.putPart(part.upload_url, data.subarray(part.start_byte, part.end_byte));
    }
    const res = await api.post('/tasks/upload/multipart/list', init);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      parts: [
        { part_number: 1, etag: md5(data.subarray(0, 5 * MiB)), size: 5 * MiB },
        { part_number: 4, etag: md5(data.subarray(15 * MiB)), size: MiB + 123 },
      ],
    });
  });

  it('still lists the parts after complete, so a client that lost the answer can complete again', async () => {
    const { ref, parts } = await api.uploadFile(data);
    const res = await api.post('/tasks/upload/multipart/list', ref);
    expect(res.body.parts.map((p: { etag: string }) => p.etag)).toEqual(parts.map((p) => p.etag));
  });

  it('answers 404 for unknown uploads and for uploads of another task', async () => {
    const a = (await api.init({ filename: 'a.speos', file_size: 10 })).body;
    const b = (await api.init({ filename: 'b.speos', file_size: 10 })).body;
    const crossed = await api.post('/tasks/upload/multipart/list', { ...a, task_id: b.task_id });
    expect(crossed.status).toBe(404);
    expect(crossed.body.code).toBe('NO_SUCH_UPLOAD');
    const missing = await api.post('/tasks/upload/multipart/list', { ...a, upload_id: '0'.repeat(32) });
    expect(missing.status).toBe(404);
  });
});

describe('POST /tasks/upload/multipart/sign', () => {
  it('signs only the parts the server lacks by default, or the ones asked for', async () => {
    const init = (await api.init({ filename: 'a.speos', file_size: data.length })).body;
    const p2 = init.parts[1];
    await api.putPart(p2.upload_url, data.subarray(p2.start_byte, p2.end_byte));
    const missing = await api.post('/tasks/upload/multipart/sign', init);
    expect(missing.status).toBe(200);
    expect(missing.body.parts.map((p: { part_number: number }) => p.part_number)).toEqual([1, 3, 4]);
    expect(missing.body.parts[0]).toMatchObject({ start_byte: 0, end_byte: 5 * MiB, size: 5 * MiB });
    expect(missing.body.expires_at).toBeGreaterThan(Date.now() / 1000 + 3000);
    const chosen = await api.post('/tasks/upload/multipart/sign', { ...init, part_numbers: [4, 2, 4] });
    expect(chosen.body.parts.map((p: { part_number: number }) => p.part_number)).toEqual([2, 4]);
    const outside = await api.post('/tasks/upload/multipart/sign', { ...init, part_numbers: [5] });
    expect(outside.status).toBe(422);
    expect(outside.body.detail).toContain('parts 1…4');
  });

  it('refuses completed uploads with 409', async () => {
    const { ref } = await api.uploadFile(data);
    const res = await api.post('/tasks/upload/multipart/sign', ref);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('UPLOAD_ALREADY_COMPLETED');
  });
});

describe('POST /tasks/upload/multipart/abort', () => {
  it('deletes the parts, marks the task ABORTED, and is idempotent', async () => {
    const { ref } = await api.uploadParts(data);
    const first = await api.post('/tasks/upload/multipart/abort', ref);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ task_id: ref.task_id, upload_id: ref.upload_id, status: 'ABORTED' });
    const second = await api.post('/tasks/upload/multipart/abort', ref);
    expect(second.status).toBe(200);
    expect((await api.get(`/tasks/${ref.task_id}`)).body.status).toBe('ABORTED');
    const list = await api.post('/tasks/upload/multipart/list', ref);
    expect(list.status).toBe(404);
    expect(list.body.detail).toContain('aborted');
    const history = (await api.get(`/tasks/${ref.task_id}/detail`)).body.status_history;
    expect(history.map((h: { status: string }) => h.status)).toEqual(['UPLOADING', 'ABORTED']);
  });

  it('refuses after confirm with 409, and unknown uploads with 404', async () => {
    const { init, ref } = await api.uploadFile(data);
    await api.post('/tasks/upload/confirm', {
      task_id: init.task_id,
      master_object_key: init.object_key,
      job_name: 'j',
    });
    const res = await api.post('/tasks/upload/multipart/abort', ref);
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('INVALID_STATE');
    expect(res.body.detail).toMatch(/stop or delete/i);
    const unknown = await api.post('/tasks/upload/multipart/abort', { ...ref, upload_id: '1'.repeat(32) });
    expect(unknown.status).toBe(404);
  });
});
