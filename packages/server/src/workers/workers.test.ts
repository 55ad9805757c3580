/**
 * GET /workers and a pending task's queue_reason: a real portal, real SQLite, a real
 * Worker running real child processes. The solver is a TEST DOUBLE
 * (test-support/fake-speos.mjs): SPEOS cannot be installed here.
 */
import { TestApi } from '@speos-portal/test-support/api.js';
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { createPgDatabase, pgTestUrl, type TestDatabase } from '@speos-portal/test-support/services.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import type { ObjectStore } from '../storage/object-store.js';
import { closeObjectStore, openObjectStore } from '../storage/open-store.js';
import { loadWorkerConfig } from '../worker/config.js';
import { Worker } from '../worker/worker.js';
import { announceWorker } from './registry.js';

const COMMAND = `${process.execPath} ${FAKE} {master}`;

async function waitFor<T>(read: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const pgServer = pgTestUrl('workers on PostgreSQL');
const kinds = pgServer ? (['sqlite', 'postgres'] as const) : (['sqlite'] as const);

describe.each(kinds)('workers you can see (%s)', (kind) => {
  let portal: TestPortal;
  let api: TestApi;
  let store: ObjectStore;
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    if (kind === 'postgres') database = await createPgDatabase(pgServer!);
    portal = await startTestPortal(database ? { DATABASE_URL: database.url } : {});
    api = new TestApi(portal.url);
    store = await openObjectStore(loadConfig({ DATA_DIR: portal.dataDir }));
  });
  afterAll(async () => {
    await closeObjectStore(store);
    await portal.close();
    await database?.drop();
  });

  const submit = async (version: string, plan: Record<string, unknown>) => {
    const { init } = await api.uploadFile(Buffer.from(JSON.stringify(plan)), { filename: 'model.speos' });
    const res = await api.post('/tasks/upload/confirm', {
      task_id: init.task_id,
      master_object_key: init.object_key,
      job_name: `job ${version}`,
      version,
    });
    expect(res.status).toBe(200);
    return init.task_id as string;
  };
  const task = async (id: string) => (await api.get(`/tasks/${id}`)).body;

  it('says that nobody will run a job while no worker is online, in the task and the list', async () => {
    expect((await api.get('/workers')).body).toEqual({ items: [], online: 0 });
    const id = await submit('v252', { passes: 1 });
    expect(await task(id)).toMatchObject({
      status: 'PENDING',
      queue_reason_code: 'NO_WORKER_ONLINE',
      queue_reason: expect.stringContaining('No worker is online'),
    });
    const listed = (await api.get('/tasks')).body.items.find((t: { task_id: string }) => t.task_id === id);
    expect(listed.queue_reason_code).toBe('NO_WORKER_ONLINE');
    expect((await api.get(`/api/tasks/${id}/detail`)).body.queue_reason_code).toBe('NO_WORKER_ONLINE');
  });

  it('lists a worker while it runs, with its versions, slots and running tasks; it is gone once stopped', async () => {
    const worker = new Worker({
      db: portal.db,
      store,
      clock: Date.now,
      config: loadWorkerConfig(
        { SPEOS_COMMAND_V251: COMMAND, WORKER_SLOTS: '2', WORKER_POLL_SECONDS: '0.1', WORKER_ID: 'lab-1' },
        portal.dataDir,
      ),
    });
    const before = Math.floor(Date.now() / 1000);
    worker.start();
    try {
      const listed = await waitFor(
        () => api.get('/workers').then((r) => r.body),
        (b) => b.online === 1,
        'the worker to be online',
      );
      expect(listed.items).toEqual([
        {
          worker_id: 'lab-1',
          host: expect.any(String),
          versions: ['v251'],
          slots: 2,
          running_tasks: 0,
          started_at: expect.any(Number),
          last_heartbeat: expect.any(Number),
          online: true,
        },
      ]);
      expect(listed.items[0].last_heartbeat).toBeGreaterThanOrEqual(before);

      // A v252 job waits for a reason: the online worker runs v251 only.
      const waiting = await submit('v252', { passes: 1 });
      expect(await task(waiting)).toMatchObject({
        status: 'PENDING',
        queue_reason_code: 'NO_WORKER_FOR_VERSION',
        queue_reason: expect.stringContaining('SPEOS v252'),
      });

      const running = await submit('v251', { hang: true });
      await waitFor(
        () => task(running),
        (t) => t.status === 'RUNNING',
        'the v251 task to run',
      );
      expect(await task(running)).toMatchObject({ queue_reason: null, queue_reason_code: null });
      const busy = await waitFor(
        () => api.get('/workers').then((r) => r.body),
        (b) => b.items[0]?.running_tasks === 1,
        'one running task',
      );
      expect(busy.items[0].last_heartbeat).toBeGreaterThanOrEqual(listed.items[0].last_heartbeat);
      expect((await api.post(`/tasks/${running}/stop`, {})).status).toBe(200);
    } finally {
      await worker.stop();
    }
    expect((await api.get('/workers')).body).toEqual({ items: [], online: 0 });
  });

  it('shows a worker that stopped heart-beating as offline, and pending jobs wait for a worker again', async () => {
    const now = Date.now();
    await announceWorker(
      portal.db,
      { workerId: 'gone', host: 'lab-2', versions: ['*'], slots: 1, leaseMs: 30_000 },
      now - 60_000,
    );
    const body = (await api.get('/workers')).body;
    expect(body.online).toBe(0);
    expect(body.items).toMatchObject([{ worker_id: 'gone', host: 'lab-2', versions: ['*'], online: false }]);
    const id = await submit('v252', { passes: 1 });
    expect((await task(id)).queue_reason_code).toBe('NO_WORKER_ONLINE');
    // Online again: a worker for every version leaves no reason to report.
    await announceWorker(
      portal.db,
      { workerId: 'gone', host: 'lab-2', versions: ['*'], slots: 1, leaseMs: 30_000 },
      now,
    );
    expect(await task(id)).toMatchObject({ queue_reason: null, queue_reason_code: null });
  });
});

describe('GET /workers with sign-in on', () => {
  it('needs a credential, like the task list', async () => {
    const portal = await startTestPortal({ AUTH_TOKENS: 'a-long-enough-token-1:alice' });
    try {
      const anonymous = await new TestApi(portal.url).get('/workers');
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.code).toBe('UNAUTHENTICATED');
      const alice = await new TestApi(portal.url, 'a-long-enough-token-1').get('/workers');
      expect(alice.status).toBe(200);
      expect(alice.body).toEqual({ items: [], online: 0 });
    } finally {
      await portal.close();
    }
  });
});
