/**
 * The production set-up end to end: STORAGE=s3 (Swift + s3api) and PostgreSQL, through
 * real portals on real ports. The whole upload flow of docs/api.md, then two API servers sharing one
 * database and one bucket, then the start-up checks.
 */
import { createHash } from 'node:crypto';
import { MiB, randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import {
  createPgDatabase,
  pgTestUrl,
  s3PortalEnv,
  s3TestOptions,
  type TestDatabase,
} from '@speos-portal/test-support/services.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPortal } from '../app.js';
import { loadConfig } from '../config.js';

const s3 = s3TestOptions('S3 + PostgreSQL end to end');
const pgServer = pgTestUrl('S3 + PostgreSQL end to end');
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

describe.skipIf(!s3 || !pgServer)('STORAGE=s3 with PostgreSQL', () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  beforeAll(async () => {
    database = await createPgDatabase(pgServer!);
    env = { ...s3PortalEnv(s3!), DATABASE_URL: database.url };
  });
  afterAll(async () => {
    await database?.drop();
  });

  describe('one API server', () => {
    let portal: TestPortal;
    let api: TestApi;
    beforeAll(async () => {
      portal = await startTestPortal(env);
      api = new TestApi(portal.url);
    });
    afterAll(async () => {
      await portal?.close();
    });

    it('runs the whole flow: init → PUT parts to the store → complete → confirm → task', async () => {
      const data = randomBytesSeeded(12 * MiB + 321, 7);
      const init = await api.init({ filename: '车灯 headlamp.speos.zip', file_size: data.length });
      expect(init.status).toBe(200);
      expect(init.body.total_chunks).toBe(3);
      for (const part of init.body.parts) {
        // The data plane bypasses the API server: the URLs point at the object store.
        expect(part.upload_url.startsWith(`${s3!.endpoint}/${s3!.bucket}/`)).toBe(true);
        expect(part.upload_url).toContain('X-Amz-Signature=');
      }
      const ref = { task_id: init.body.task_id, upload_id: init.body.upload_id, object_key: init.body.object_key };
      const parts = [];
      for (const part of init.body.parts) {
        const slice = data.subarray(part.start_byte, part.end_byte);
        const put = await api.putPart(part.upload_url, slice);
        expect(put.status).toBe(200);
        expect(put.etag).toBe(md5(slice));
        parts.push({ part_number: part.part_number, etag: `"${put.etag}"` });
      }
      const listed = await api.post('/tasks/upload/multipart/list', ref);
      expect(listed.status).toBe(200);
      expect(listed.body.parts.map((p: { part_number: number }) => p.part_number)).toEqual([1, 2, 3]);

      const complete = { ...ref, file_type: 'master', parts };
      const done = await api.post('/tasks/upload/multipart/complete', complete);
      expect(done.status).toBe(200);
      expect(done.body).toMatchObject({ task_id: ref.task_id, object_key: ref.object_key, size: data.length });
      expect(done.body.etag).toMatch(/^[0-9a-f]{32}-3$/);
      const again = await api.post('/tasks/upload/multipart/complete', complete);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(done.body);

      const confirm = await api.post('/tasks/upload/confirm', {
        task_id: ref.task_id,
        master_object_key: ref.object_key,
        job_name: '车灯 night test',
        thread_count: '8',
      });
      expect(confirm.status).toBe(200);
      expect(confirm.body.status).toBe('PENDING');

      const task = await api.get(`/tasks/${ref.task_id}`);
      expect(task.status).toBe(200);
      expect(task.body).toMatchObject({
        task_id: ref.task_id,
        status: 'PENDING',
        job_name: '车灯 night test',
        master: { object_key: ref.object_key, filename: '车灯 headlamp.speos.zip', size: data.length },
      });

      // The input file: a 302 to a presigned GET of the store, byte-identical.
      const file = await fetch(`${portal.url}/tasks/${ref.task_id}/files/master`, { redirect: 'manual' });
      expect(file.status).toBe(302);
      const location = file.headers.get('location')!;
      expect(location.startsWith(`${s3!.endpoint}/`)).toBe(true);
      const download = await fetch(location);
      expect(download.status).toBe(200);
      expect(download.headers.get('content-disposition')).toContain("filename*=UTF-8''");
      expect(md5(Buffer.from(await download.arrayBuffer()))).toBe(md5(data));
    });

    it('aborts: parts are gone from the store, the task is ABORTED', async () => {
      const data = randomBytesSeeded(6 * MiB, 8);
      const { ref } = await api.uploadParts(data);
      const aborted = await api.post('/tasks/upload/multipart/abort', ref);
      expect(aborted.status).toBe(200);
      expect((await api.post('/tasks/upload/multipart/abort', ref)).status).toBe(200);
      const list = await api.post('/tasks/upload/multipart/list', ref);
      expect(list.status).toBe(404);
      expect(list.body.code).toBe('NO_SUCH_UPLOAD');
      expect((await api.get(`/tasks/${ref.task_id}`)).body.status).toBe('ABORTED');
    });

    it('maps the store refusing a wrong ETag to ETAG_MISMATCH', async () => {
      const data = randomBytesSeeded(5 * MiB + 10, 9);
      const { ref, parts } = await api.uploadParts(data);
      const wrong = parts.map((p, i) => (i === 1 ? { ...p, etag: md5(Buffer.from('other')) } : p));
      const res = await api.post('/tasks/upload/multipart/complete', { ...ref, parts: wrong });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('ETAG_MISMATCH');
    });

    it('is ready (database and bucket reachable)', async () => {
      const res = await api.get('/readyz');
      expect(res.status).toBe(200);
    });
  });

  it('serves one upload through two API servers: init, parts, complete and confirm on different ones', async () => {
    const a = await startTestPortal(env);
    const b = await startTestPortal(env);
    try {
      const apiA = new TestApi(a.url);
      const apiB = new TestApi(b.url);
      const data = randomBytesSeeded(11 * MiB, 10);
      const init = await apiA.init({ filename: 'shared.speos.zip', file_size: data.length });
      expect(init.status).toBe(200);
      const ref = { task_id: init.body.task_id, upload_id: init.body.upload_id, object_key: init.body.object_key };
      // Part 1 with A's URL; parts 2 and 3 with URLs B signs.
      const first = init.body.parts[0]!;
      const put1 = await apiA.putPart(first.upload_url, data.subarray(first.start_byte, first.end_byte));
      expect(put1.status).toBe(200);
      const signed = await apiB.post('/tasks/upload/multipart/sign', ref);
      expect(signed.status).toBe(200);
      expect(signed.body.parts.map((p: { part_number: number }) => p.part_number)).toEqual([2, 3]);
      for (const part of signed.body.parts) {
        const put = await apiB.putPart(part.upload_url, data.subarray(part.start_byte, part.end_byte));
        expect(put.status).toBe(200);
      }
      const listed = await apiA.post('/tasks/upload/multipart/list', ref);
      const parts = listed.body.parts.map((p: { part_number: number; etag: string }) => ({
        part_number: p.part_number,
        etag: p.etag,
      }));
      expect(parts).toHaveLength(3);
      const done = await apiB.post('/tasks/upload/multipart/complete', { ...ref, parts });
      expect(done.status).toBe(200);
      // A client that lost B's answer retries complete on A: same answer.
      const retried = await apiA.post('/tasks/upload/multipart/complete', { ...ref, parts });
      expect(retried.body).toEqual(done.body);
      const confirm = await apiA.post('/tasks/upload/confirm', {
        task_id: ref.task_id,
        master_object_key: ref.object_key,
        job_name: 'two servers',
      });
      expect(confirm.status).toBe(200);
      const seenByB = await apiB.get(`/tasks/${ref.task_id}`);
      expect(seenByB.body).toMatchObject({ status: 'PENDING', master: { size: data.length } });
      const file = await fetch(`${b.url}/tasks/${ref.task_id}/files/master`);
      expect(md5(Buffer.from(await file.arrayBuffer()))).toBe(md5(data));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('with auth on, a download follows the 302 with Range; the bearer token does not reach the store', async () => {
    const token = 'e2e-token-0123456789';
    const portal = await startTestPortal({ ...env, AUTH_TOKENS: `${token}:alice` });
    try {
      const api = new TestApi(portal.url, token);
      const data = randomBytesSeeded(MiB, 11);
      const { ref } = await api.uploadFile(data);
      const url = `${portal.url}/tasks/${ref.task_id}/files/master`;
      expect((await fetch(url, { redirect: 'manual' })).status).toBe(401);
      // fetch drops Authorization when a redirect changes origin (S3 would refuse a request
      // carrying two authentications); browsers do the same.
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, range: 'bytes=100-199' } });
      expect(res.status).toBe(206);
      expect(Buffer.from(await res.arrayBuffer()).equals(data.subarray(100, 200))).toBe(true);
    } finally {
      await portal.close();
    }
  });

  it('refuses to start when the bucket or the database cannot be used, naming the variable', async () => {
    const base = { PORT: '0', LOG_LEVEL: 'silent', DATA_DIR: '/nonexistent' };
    await expect(createPortal(loadConfig({ ...base, ...env, S3_BUCKET: 'no-such-bucket-here' }))).rejects.toThrow(
      /S3_BUCKET: bucket "no-such-bucket-here" does not exist/,
    );
    await expect(createPortal(loadConfig({ ...base, ...env, S3_ENDPOINT: 'http://127.0.0.1:9' }))).rejects.toThrow(
      /S3_ENDPOINT: cannot reach/,
    );
    const wrongDb = new URL(database.url);
    wrongDb.pathname = '/no_such_database';
    await expect(createPortal(loadConfig({ ...base, ...env, DATABASE_URL: wrongDb.toString() }))).rejects.toThrow(
      /DATABASE_URL: cannot connect to PostgreSQL .*no_such_database/,
    );
  });
});
