/**
 * Unfinished uploads past UPLOAD_TTL_HOURS become EXPIRED and lose their parts — with a
 * moved clock, on the embedded set-up (filesystem + SQLite) and, where the test servers
 * run, on S3 + PostgreSQL (where one instance at a time sweeps).
 */
import { rm } from 'node:fs/promises';
import { asBody, MiB, randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { freePort, tempDir } from '@speos-portal/test-support/portal.js';
import { createPgDatabase, pgTestUrl, s3PortalEnv, s3TestOptions } from '@speos-portal/test-support/services.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPortal } from '../app.js';
import { loadConfig } from '../config.js';
import type { ObjectStore } from '../storage/object-store.js';
import { expireUploads } from './expiry.js';

const HOUR = 3600 * 1000;

/** A portal whose clock the test moves. */
async function startPortal(env: Record<string, string>) {
  let now = Date.now();
  const dataDir = await tempDir('speos-expiry-');
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    UPLOAD_TTL_HOURS: '24',
    UPLOAD_EXPIRY_INTERVAL_SECONDS: '3600',
    ...env,
  });
  const portal = await createPortal(config, { clock: () => now });
  await portal.app.listen({ port, host: '127.0.0.1' });
  return {
    ...portal,
    api: new TestApi(`http://127.0.0.1:${port}`),
    advance(ms: number) {
      now += ms;
    },
    async close() {
      await portal.app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

function expirySuite(name: string, makeEnv: () => Promise<{ env: Record<string, string>; close(): Promise<void> }>) {
  describe(`upload expiry: ${name}`, () => {
    let portal: Awaited<ReturnType<typeof startPortal>>;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      const made = await makeEnv();
      cleanup = made.close;
      portal = await startPortal(made.env);
    });
    afterAll(async () => {
      await portal?.close();
      await cleanup?.();
    });

    it('expires unfinished uploads past the TTL: upload and task EXPIRED, history entry, parts deleted', async () => {
      const api = portal.api;
      const data = randomBytesSeeded(5 * MiB + 100, 21);
      // Three uploads at the same time: one left unfinished, one completed, one abandoned
      // include-only upload (its own placeholder task).
      const stale = await api.uploadParts(data);
      const done = await api.uploadParts(data);
      const include = await api.uploadParts(data, { file_type: 'include', filename: 'refs.zip' });
      portal.advance(23 * HOUR);
      // Completed 2 h before the sweep: unfinished for 23 h, but no longer unfinished.
      // (Completed uploads expire only UPLOAD_TTL_HOURS after completion, tested below.)
      const completed23h = await api.post('/tasks/upload/multipart/complete', { ...done.ref, parts: done.parts });
      expect(completed23h.status).toBe(200);
      const fresh = await api.uploadParts(data); // 1 h old when the sweep runs
      portal.advance(2 * HOUR);

      const result = await portal.expiry.runNow();
      expect(result.ran).toBe(true);
      expect(result.expired.sort()).toEqual([stale.ref.upload_id, include.ref.upload_id].sort());

      const detail = await api.get(`/tasks/${stale.ref.task_id}/detail`);
      expect(detail.body.status).toBe('EXPIRED');
      const last = detail.body.status_history.at(-1);
      expect(last).toMatchObject({ status: 'EXPIRED' });
      expect(last.message).toContain('24 h');
      expect((await api.get(`/tasks/${include.ref.task_id}`)).body.status).toBe('EXPIRED');
      expect((await api.get(`/tasks/${done.ref.task_id}`)).body.status).toBe('UPLOADING');
      expect((await api.get(`/tasks/${fresh.ref.task_id}`)).body.status).toBe('UPLOADING');

      const list = await api.post('/tasks/upload/multipart/list', stale.ref);
      expect(list.status).toBe(404);
      expect(list.body.code).toBe('NO_SUCH_UPLOAD');
      await expect(portal.store.listParts(stale.ref.object_key, stale.ref.upload_id)).rejects.toMatchObject({
        code: 'NO_SUCH_UPLOAD',
      });
      const late = await fetch(stale.init.parts[0]!.upload_url, {
        method: 'PUT',
        body: asBody(data.subarray(0, stale.init.parts[0]!.size)),
      });
      // Never stored. S3 answers NoSuchUpload (404, XML; its URLs follow the real clock). The fs
      // store's URLs follow the portal's clock, moved 25 h on, so the URL's expiry answers first (403).
      expect([403, 404]).toContain(late.status);
      await late.arrayBuffer();
      // The fresh one is untouched and still completes.
      const completed = await api.post('/tasks/upload/multipart/complete', { ...fresh.ref, parts: fresh.parts });
      expect(completed.status).toBe(200);

      expect((await portal.expiry.runNow()).expired).toEqual([]);
    });

    it('expires uploads completed but never confirmed, TTL after completion; keeps submitted ones', async () => {
      const api = portal.api;
      const data = randomBytesSeeded(MiB + 7, 24);
      const unconfirmed = await api.uploadFile(data);
      const submitted = await api.uploadFile(data);
      const confirm = await api.post('/tasks/upload/confirm', {
        task_id: submitted.ref.task_id,
        master_object_key: submitted.ref.object_key,
        job_name: 'kept',
      });
      expect(confirm.status).toBe(200);
      // An include uploaded as its own task, then used by a submitted task: kept too.
      const sharedInclude = await api.uploadFile(data, { file_type: 'include', filename: 'shared.zip' });
      const withInclude = await api.uploadFile(data);
      expect(
        (
          await api.post('/tasks/upload/confirm', {
            task_id: withInclude.ref.task_id,
            master_object_key: withInclude.ref.object_key,
            include_object_key: sharedInclude.ref.object_key,
            job_name: 'with include',
          })
        ).status,
      ).toBe(200);
      const lonelyInclude = await api.uploadFile(data, { file_type: 'include', filename: 'lonely.zip' });
      portal.advance(23 * HOUR);
      const recent = await api.uploadFile(data); // 2 h old at the sweep
      portal.advance(2 * HOUR);

      const result = await portal.expiry.runNow();
      // (The uploads the test above left completed expire in this sweep too.)
      expect(result.expired).toEqual(expect.arrayContaining([unconfirmed.ref.upload_id, lonelyInclude.ref.upload_id]));
      for (const kept of [submitted, withInclude, sharedInclude, recent]) {
        expect(result.expired).not.toContain(kept.ref.upload_id);
      }

      const detail = await api.get(`/tasks/${unconfirmed.ref.task_id}/detail`);
      expect(detail.body.status).toBe('EXPIRED');
      expect(detail.body.master.upload_status).toBe('EXPIRED');
      expect(detail.body.status_history.at(-1).message).toContain('not submitted within 24 h');
      expect(await portal.store.headObject(unconfirmed.ref.object_key)).toBeNull();
      expect(await portal.store.headObject(lonelyInclude.ref.object_key)).toBeNull();
      const late = await api.post('/tasks/upload/confirm', {
        task_id: unconfirmed.ref.task_id,
        master_object_key: unconfirmed.ref.object_key,
        job_name: 'too late',
      });
      expect(late.status).toBe(409);
      expect(late.body.code).toBe('INVALID_STATE');

      for (const kept of [submitted, withInclude, sharedInclude, recent]) {
        expect(await portal.store.headObject(kept.ref.object_key)).not.toBeNull();
      }
      expect((await api.get(`/tasks/${submitted.ref.task_id}`)).body.status).toBe('PENDING');
      const recentConfirm = await api.post('/tasks/upload/confirm', {
        task_id: recent.ref.task_id,
        master_object_key: recent.ref.object_key,
        job_name: 'in time',
      });
      expect(recentConfirm.status).toBe(200);
    });

    it('a confirm racing the sweep: either the task is submitted with its file, or refused with the file gone', async () => {
      const api = portal.api;
      const data = randomBytesSeeded(64 * 1024, 25);
      for (let round = 0; round < 12; round++) {
        const upload = await api.uploadFile(data);
        portal.advance(25 * HOUR);
        const [confirm] = await Promise.all([
          api.post('/tasks/upload/confirm', {
            task_id: upload.ref.task_id,
            master_object_key: upload.ref.object_key,
            job_name: `race ${round}`,
          }),
          portal.expiry.runNow(),
        ]);
        const task = (await api.get(`/tasks/${upload.ref.task_id}`)).body;
        const stored = await portal.store.headObject(upload.ref.object_key);
        if (confirm.status === 200) {
          expect(task.status).toBe('PENDING');
          expect(task.master.upload_status).toBe('COMPLETED');
          expect(stored).not.toBeNull();
        } else {
          expect([404, 409]).toContain(confirm.status);
          expect(task.status).toBe('EXPIRED');
          expect(stored).toBeNull();
        }
      }
    });
  });
}

expirySuite('filesystem + SQLite', async () => ({ env: {}, close: async () => {} }));

const s3 = s3TestOptions('upload expiry on S3 + PostgreSQL');
const pgServer = pgTestUrl('upload expiry on S3 + PostgreSQL');

describe.skipIf(!s3 || !pgServer)('S3 + PostgreSQL', () => {
  expirySuite('S3 + PostgreSQL', async () => {
    const database = await createPgDatabase(pgServer!);
    return { env: { ...s3PortalEnv(s3!), DATABASE_URL: database.url }, close: () => database.drop() };
  });

  it('lets one instance at a time sweep (advisory lock)', async () => {
    const database = await createPgDatabase(pgServer!);
    const a = await startPortal({ ...s3PortalEnv(s3!), DATABASE_URL: database.url });
    try {
      await a.expiry.stop(); // only this test's sweeps take the lock
      const upload = await a.api.uploadParts(randomBytesSeeded(MiB, 22));
      // A store whose abort waits for the test, so the first sweep holds the lock meanwhile.
      let release!: () => void;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => {
        entered = resolve;
      });
      const slow: ObjectStore = Object.create(a.store, {
        abortMultipartUpload: {
          value: async (key: string, uploadId: string) => {
            entered();
            await gate;
            return a.store.abortMultipartUpload(key, uploadId);
          },
        },
      });
      const clock = () => Date.now() + 25 * HOUR;
      const first = expireUploads({ db: a.db, store: slow, clock, ttlHours: 24 });
      await inside;
      const second = await expireUploads({ db: a.db, store: a.store, clock, ttlHours: 24 });
      expect(second).toEqual({ ran: false, expired: [] });
      release();
      expect(await first).toEqual({ ran: true, expired: [upload.ref.upload_id] });
    } finally {
      await a.close();
      await database.drop();
    }
  });
});

describe('the periodic job', () => {
  it('runs on its interval from createPortal and stops with the app', async () => {
    const portal = await startPortal({ UPLOAD_EXPIRY_INTERVAL_SECONDS: '1' });
    try {
      const upload = await portal.api.uploadParts(randomBytesSeeded(MiB, 23));
      portal.advance(25 * HOUR);
      const deadline = Date.now() + 10_000;
      let status = '';
      while (Date.now() < deadline) {
        status = (await portal.api.get(`/tasks/${upload.ref.task_id}`)).body.status;
        if (status === 'EXPIRED') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(status).toBe('EXPIRED');
    } finally {
      await portal.close();
    }
  });
});
