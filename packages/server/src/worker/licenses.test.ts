/**
 * Licence pools with the local executor (LICENSES): real portals, real SQLite and
 * PostgreSQL, real worker processes. The solver is the TEST DOUBLE
 * test-support/fake-speos.mjs; runs of one plan id that overlap are noted in its
 * FAKE_SPEOS_RUNS file, which is how these tests see two jobs holding one licence at once.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestApi } from '@speos-portal/test-support/api.js';
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import { startTestPortal, type TestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { createPgDatabase, pgTestUrl, type TestDatabase } from '@speos-portal/test-support/services.js';
import { waitFor } from '@speos-portal/test-support/wait.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../clock.js';
import { loadConfig } from '../config.js';
import { openObjectStore } from '../storage/open-store.js';
import { loadWorkerConfig, parseLicenses } from './config.js';
import { Worker } from './worker.js';

const COMMAND = `${process.execPath} ${FAKE} {master}`;
const SERVER_DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

const plan = (p: Record<string, unknown>) => Buffer.from(JSON.stringify(p));

async function submit(api: TestApi, master: Buffer): Promise<string> {
  const { init } = await api.uploadFile(master, { filename: 'model.speos' });
  const res = await api.post('/tasks/upload/confirm', {
    task_id: init.task_id,
    master_object_key: init.object_key,
    job_name: 'licensed',
  });
  expect(res.status).toBe(200);
  return init.task_id as string;
}

async function overlaps(runsFile: string, key: string): Promise<{ starts: number; overlaps: number }> {
  const runs = (await readFile(runsFile, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { key?: string; overlap?: string });
  return {
    starts: runs.filter((r) => r.key === key).length,
    overlaps: runs.filter((r) => r.overlap === key).length,
  };
}

describe('LICENSES', () => {
  it('reads name:count pairs and names the variable when they are wrong', () => {
    expect([...parseLicenses('speos:4, speos_hpc:16')]).toEqual([
      ['speos', 4],
      ['speos_hpc', 16],
    ]);
    expect(parseLicenses(undefined).size).toBe(0);
    for (const bad of ['speos', 'speos:0', 'speos:-1', 'sp eos:2', 'speos:1,speos:2', 'speos:x']) {
      expect(() => parseLicenses(bad), bad).toThrow(/LICENSES/);
    }
  });
});

const databases: [string, () => Promise<{ env: Record<string, string>; drop(): Promise<void> } | undefined>][] = [
  ['SQLite', async () => ({ env: {}, drop: async () => {} })],
  [
    'PostgreSQL',
    async () => {
      const server = pgTestUrl('licence pool on PostgreSQL');
      if (!server) return undefined;
      const db: TestDatabase = await createPgDatabase(server);
      return { env: { DATABASE_URL: db.url }, drop: () => db.drop() };
    },
  ],
];

for (const [name, open] of databases) {
  describe(`a one-licence pool shared by three workers (${name})`, () => {
    let database: Awaited<ReturnType<(typeof databases)[number][1]>>;
    let portal: TestPortal;
    let api: TestApi;
    let runsFile: string;
    const workers: Worker[] = [];
    beforeAll(async () => {
      database = await open();
      if (!database) return;
      const dataDir = await tempDir();
      runsFile = path.join(dataDir, 'runs.jsonl');
      process.env.FAKE_SPEOS_RUNS = runsFile;
      const env = { ...database.env, SPEOS_COMMAND_V252: COMMAND, LICENSES: 'speos:1', WORKER_SLOTS: '2' };
      // The portal runs one worker itself; two more share its database.
      portal = await startTestPortal(env, { dataDir });
      api = new TestApi(portal.url);
      const store = await openObjectStore(loadConfig({ DATA_DIR: dataDir }));
      for (const id of ['second', 'third']) {
        const worker = new Worker({
          db: portal.db,
          store,
          clock: systemClock,
          config: loadWorkerConfig({ ...env, WORKER_ID: id, WORKER_POLL_SECONDS: '0.05' }, dataDir),
        });
        worker.start();
        workers.push(worker);
      }
    });
    afterAll(async () => {
      for (const worker of workers) await worker.stop();
      await portal?.close();
      await database?.drop();
      delete process.env.FAKE_SPEOS_RUNS;
    });

    it('runs the jobs one at a time; a waiting one says it waits for a licence', async (context) => {
      if (!database) return context.skip();
      const ids: string[] = [];
      // Many short jobs: six claim slots race for the one licence at every job's end.
      for (let i = 0; i < 12; i++) ids.push(await submit(api, plan({ id: 'pool', passes: 2, delay_ms: 40 })));
      const waiting = await waitFor(
        () => api.get(`/tasks/${ids[11]}`).then((r) => r.body),
        (t) => t.queue_reason === 'waiting for a licence',
        'the last task to wait for the licence',
      );
      expect(waiting.status).toBe('PENDING');
      expect(waiting.queue_position).toBeGreaterThanOrEqual(1);
      for (const id of ids) {
        await waitFor(
          () => api.get(`/tasks/${id}`).then((r) => r.body.status),
          (s) => s === 'SUCCESS' || s === 'FAILURE',
          `task ${id} to end`,
        );
        expect((await api.get(`/tasks/${id}`)).body.status).toBe('SUCCESS');
      }
      expect(await overlaps(runsFile, 'pool')).toEqual({ starts: 12, overlaps: 0 });
      // Nothing left waiting: no reason to give.
      const done = await api.get(`/tasks/${ids[11]}`);
      expect(done.body).toMatchObject({ queue_position: null, queue_reason: null });
    }, 120_000);
  });
}

describe('a lost worker gives its licence back with its lease', () => {
  it('a worker killed while it holds the only licence: the next task runs once its lease lapses', async () => {
    const dataDir = await tempDir();
    const runsFile = path.join(dataDir, 'runs.jsonl');
    await writeFile(runsFile, '');
    const portal = await startTestPortal({}, { dataDir }); // no worker of its own
    const api = new TestApi(portal.url);
    const env = {
      ...process.env,
      DATA_DIR: dataDir,
      SPEOS_COMMAND_V252: COMMAND,
      LICENSES: 'speos:1',
      WORKER_LEASE_SECONDS: '3',
      WORKER_POLL_SECONDS: '0.2',
      WORKER_MAX_ATTEMPTS: '1',
      FAKE_SPEOS_RUNS: runsFile,
    };
    const startWorker = (id: string) =>
      spawn(process.execPath, ['-e', `import(${JSON.stringify(SERVER_DIST)}).then((m) => m.runWorker())`], {
        env: { ...env, WORKER_ID: id },
        stdio: 'ignore',
      });
    const doomed = startWorker('doomed');
    let next: ReturnType<typeof startWorker> | undefined;
    try {
      const first = await submit(api, plan({ id: 'first', hang: true }));
      await waitFor(
        () => api.get(`/tasks/${first}`).then((r) => r.body.status),
        (s) => s === 'RUNNING',
        'the first task to run',
      );
      const second = await submit(api, plan({ id: 'second', passes: 1 }));
      await waitFor(
        () => api.get(`/tasks/${second}`).then((r) => r.body.queue_reason),
        (reason) => reason === 'waiting for a licence',
        'the second task to wait for the licence',
      );
      doomed.kill('SIGKILL');
      next = startWorker('next');
      // The first task's lease lapses: its licence is free again at once.
      const done = await waitFor(
        () => api.get(`/tasks/${second}`).then((r) => r.body.status),
        (s) => s === 'SUCCESS' || s === 'FAILURE',
        'the second task to run on the freed licence',
      );
      expect(done).toBe('SUCCESS');
      // The lost task itself: re-queued or failed once the new worker has seen the database for a lease.
      await waitFor(
        () => api.get(`/tasks/${first}`).then((r) => r.body.status),
        (s) => s === 'FAILURE',
        'the lost task to fail (one attempt allowed)',
      );
      expect(await overlaps(runsFile, 'second')).toEqual({ starts: 1, overlaps: 0 });
    } finally {
      if (doomed.exitCode === null) doomed.kill('SIGKILL');
      next?.kill('SIGTERM');
      await portal.close();
    }
  }, 120_000);
});
