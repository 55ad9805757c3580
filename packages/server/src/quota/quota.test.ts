/**
 * USER_QUOTA_BYTES on a real portal: an init that would not fit is refused before anything
 * is stored, each user has their own quota, concurrent inits cannot overshoot it together
 * (SQLite and, where it runs, PostgreSQL + S3), and usage is shown to the user and to admins.
 */

import { MiB, randomBytesSeeded, TestApi } from '@speos-portal/test-support/api.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { createPgDatabase, pgTestUrl, s3PortalEnv, s3TestOptions } from '@speos-portal/test-support/services.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const TOKENS = {
  alice: 'alice-token-0123456789',
  bob: 'bob-token-0123456789ab',
  carol: 'carol-token-0123456789',
};
const QUOTA = 3 * MiB;

function quotaSuite(name: string, makeEnv: () => Promise<{ env: Record<string, string>; close(): Promise<void> }>) {
  describe(`quotas: ${name}`, () => {
    let portal: TestPortal;
    let cleanup: () => Promise<void>;
    const as = (user: keyof typeof TOKENS) => new TestApi(portal.url, TOKENS[user]);
    const rows = async (owner: string) => ({
      uploads: (await portal.db.selectFrom('uploads').select('upload_id').where('owner', '=', owner).execute()).length,
      tasks: (await portal.db.selectFrom('tasks').select('task_id').where('owner', '=', owner).execute()).length,
    });

    beforeAll(async () => {
      const made = await makeEnv();
      cleanup = made.close;
      portal = await startTestPortal({
        ...made.env,
        AUTH_TOKENS: Object.entries(TOKENS)
          .map(([user, token]) => `${token}:${user}`)
          .join(','),
        ADMIN_USERS: 'carol',
        USER_QUOTA_BYTES: String(QUOTA),
      });
    });
    afterAll(async () => {
      await portal?.close();
      await cleanup?.();
    });

    it('refuses an init that would exceed the quota with 413 QUOTA_EXCEEDED, storing nothing', async () => {
      const alice = as('alice');
      const first = await alice.init({ filename: 'a.zip', file_size: 2 * MiB });
      expect(first.status).toBe(200);
      // Unfinished uploads count at their full size.
      expect((await alice.get('/usage')).body).toEqual({ used_bytes: 2 * MiB, quota_bytes: QUOTA });
      const before = await rows('alice');
      const refused = await alice.init({ filename: 'b.zip', file_size: MiB + 1 });
      expect(refused.status).toBe(413);
      expect(refused.body.code).toBe('QUOTA_EXCEEDED');
      expect(refused.body.detail).toContain(`${2 * MiB} bytes`);
      expect(refused.body.detail).toContain(`${QUOTA} bytes`);
      expect(refused.body.detail).toMatch(/Delete finished tasks/);
      expect(await rows('alice')).toEqual(before);
      // Exactly up to the quota fits.
      const fits = await alice.init({ filename: 'c.zip', file_size: MiB });
      expect(fits.status).toBe(200);
      // Another user has their own quota.
      expect((await as('bob').init({ filename: 'b.zip', file_size: 2 * MiB })).status).toBe(200);
      // Aborting frees the space.
      for (const init of [first.body, fits.body]) {
        const ref = { task_id: init.task_id, upload_id: init.upload_id, object_key: init.object_key };
        expect((await alice.post('/tasks/upload/multipart/abort', ref)).status).toBe(200);
      }
      expect((await alice.get('/usage')).body.used_bytes).toBe(0);
    });

    it('counts completed uploads and refuses a form submission over the quota', async () => {
      const dave = as('carol'); // an admin has a quota too
      const upload = await dave.uploadFile(randomBytesSeeded(2 * MiB, 31));
      expect((await dave.get('/usage')).body.used_bytes).toBe(2 * MiB);
      const before = await rows('carol');
      const form = await dave.submitForm(
        { job_name: 'too big' },
        { master_file: { data: randomBytesSeeded(MiB + 10, 32), filename: 'm.speos' } },
      );
      expect(form.status).toBe(413);
      expect(form.body.code).toBe('QUOTA_EXCEEDED');
      expect(await rows('carol')).toEqual(before);
      expect((await dave.get('/usage')).body.used_bytes).toBe(2 * MiB);
      await dave.post('/tasks/upload/multipart/abort', upload.ref);
    });

    it('lets concurrent inits together use at most the quota (run several times)', async () => {
      for (let round = 0; round < 4; round++) {
        const bob = as('bob');
        const used = (await bob.get('/usage')).body.used_bytes as number;
        const answers = await Promise.all(
          Array.from({ length: 8 }, (_, i) => bob.init({ filename: `r${round}-${i}.zip`, file_size: MiB / 2 })),
        );
        const accepted = answers.filter((a) => a.status === 200);
        expect(answers.every((a) => a.status === 200 || a.body.code === 'QUOTA_EXCEEDED')).toBe(true);
        expect(accepted.length).toBe(Math.floor((QUOTA - used) / (MiB / 2)));
        expect((await bob.get('/usage')).body.used_bytes).toBeLessThanOrEqual(QUOTA);
        for (const a of accepted) {
          const ref = { task_id: a.body.task_id, upload_id: a.body.upload_id, object_key: a.body.object_key };
          await bob.post('/tasks/upload/multipart/abort', ref);
        }
      }
    });

    it('shows usage per user to admins only', async () => {
      const bob = as('bob');
      const denied = await bob.get('/usage/users');
      expect(denied.status).toBe(403);
      expect(denied.body.code).toBe('FORBIDDEN');
      const upload = await bob.init({ filename: 'x.zip', file_size: MiB });
      const all = await as('carol').get('/usage/users');
      expect(all.status).toBe(200);
      expect(all.body.quota_bytes).toBe(QUOTA);
      const entry = all.body.users.find((u: { owner: string }) => u.owner === 'bob');
      expect(entry.used_bytes).toBeGreaterThanOrEqual(MiB);
      expect(all.body.total_bytes).toBe(
        all.body.users.reduce((s: number, u: { used_bytes: number }) => s + u.used_bytes, 0),
      );
      await bob.post('/tasks/upload/multipart/abort', {
        task_id: upload.body.task_id,
        upload_id: upload.body.upload_id,
        object_key: upload.body.object_key,
      });
    });
  });
}

quotaSuite('filesystem + SQLite', async () => ({ env: {}, close: async () => {} }));

const s3 = s3TestOptions('quotas on S3 + PostgreSQL');
const pgServer = pgTestUrl('quotas on S3 + PostgreSQL');
describe.skipIf(!s3 || !pgServer)('S3 + PostgreSQL', () => {
  quotaSuite('S3 + PostgreSQL', async () => {
    const database = await createPgDatabase(pgServer!);
    return { env: { ...s3PortalEnv(s3!), DATABASE_URL: database.url }, close: () => database.drop() };
  });
});

describe('quotas with auth off', () => {
  it('are one shared quota, and the operator sees usage through the API', async () => {
    const portal = await startTestPortal({ USER_QUOTA_BYTES: String(MiB) });
    try {
      const api = new TestApi(portal.url);
      expect((await api.init({ filename: 'a.zip', file_size: MiB })).status).toBe(200);
      expect((await api.init({ filename: 'b.zip', file_size: 1 })).status).toBe(413);
      const all = await api.get('/usage/users');
      expect(all.status).toBe(200);
      expect(all.body.users).toEqual([{ owner: null, name: null, email: null, used_bytes: MiB }]);
      expect((await api.get('/usage')).body).toEqual({ used_bytes: MiB, quota_bytes: MiB });
    } finally {
      await portal.close();
    }
  });
});
