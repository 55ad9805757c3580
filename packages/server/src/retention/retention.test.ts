/**
 * Retention of seconds on a real portal with a real worker, on the filesystem + SQLite and,
 * where the test servers run, on S3 (Swift) + PostgreSQL: files gone, task and history kept,
 * 410 FILES_EXPIRED on downloads, pinned tasks kept, inputs shared with a retry kept until
 * the retry expires too, logs likewise, and a sweep cut off half-way finished after a restart.
 * The solver is a TEST DOUBLE (test-support/fake-speos.mjs): SPEOS cannot be installed here.
 */
import { rm } from 'node:fs/promises';
import { TestApi } from '@speos-portal/test-support/api.js';
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import { freePort, tempDir } from '@speos-portal/test-support/portal.js';
import { createPgDatabase, pgTestUrl, s3PortalEnv, s3TestOptions } from '@speos-portal/test-support/services.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPortal } from '../app.js';
import { loadConfig } from '../config.js';
import { loadWorkerConfig } from '../worker/config.js';
import { sweepRetention } from './sweep.js';

const COMMAND = `${process.execPath} ${FAKE} {master} -t {thread_count} -p {priority}`;
/** Files and logs are kept 5 s. */
const RETENTION_DAYS = String(5 / 86400);

async function startPortal(env: Record<string, string>, dataDir: string, offset: { ms: number }) {
  const port = await freePort();
  const config = loadConfig({
    PORT: String(port),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    FILES_RETENTION_DAYS: RETENTION_DAYS,
    LOG_RETENTION_DAYS: RETENTION_DAYS,
    RETENTION_INTERVAL_SECONDS: '3600', // the test runs the sweeps itself
    ...env,
  });
  const worker = loadWorkerConfig({ SPEOS_COMMAND_V252: COMMAND, WORKER_POLL_SECONDS: '0.2' }, dataDir);
  const portal = await createPortal(config, { clock: () => Date.now() + offset.ms, worker });
  await portal.app.listen({ port, host: '127.0.0.1' });
  return { ...portal, api: new TestApi(`http://127.0.0.1:${port}`) };
}

function retentionSuite(name: string, makeEnv: () => Promise<{ env: Record<string, string>; close(): Promise<void> }>) {
  describe(`retention: ${name}`, () => {
    const offset = { ms: 0 };
    let portal: Awaited<ReturnType<typeof startPortal>>;
    let dataDir: string;
    let env: Record<string, string>;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      const made = await makeEnv();
      env = made.env;
      cleanup = made.close;
      dataDir = await tempDir('speos-retention-');
      portal = await startPortal(env, dataDir, offset);
      await portal.retention!.stop(); // only the test's sweeps
    });
    afterAll(async () => {
      await portal?.app.close();
      await cleanup?.();
      await rm(dataDir, { recursive: true, force: true });
    });

    const api = () => portal.api;
    async function waitEnded(id: string) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const task = (await api().get(`/tasks/${id}`)).body;
        if (['SUCCESS', 'FAILURE', 'CANCELLED'].includes(task.status)) return task;
        if (Date.now() > deadline) throw new Error(`task ${id} still ${task.status}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    async function run(jobName: string, plan: Record<string, unknown> = {}) {
      const master = Buffer.from(
        JSON.stringify({ passes: 2, delay_ms: 5, outputs: { 'report.html': jobName }, ...plan }),
      );
      const { init } = await api().uploadFile(master, { filename: 'model.speos' });
      const confirmed = await api().post('/tasks/upload/confirm', {
        task_id: init.task_id,
        master_object_key: init.object_key,
        job_name: jobName,
      });
      expect(confirmed.status).toBe(200);
      await waitEnded(init.task_id);
      return init.task_id as string;
    }
    const outputKeys = async (taskId: string) =>
      (await portal.db.selectFrom('task_outputs').select('object_key').where('task_id', '=', taskId).execute()).map(
        (r) => r.object_key,
      );
    const masterKey = async (taskId: string) => (await api().get(`/tasks/${taskId}`)).body.master.object_key as string;
    const stored = async (key: string) => (await portal.store.headObject(key)) !== null;
    const fetchStatus = async (path: string) => {
      const res = await fetch(`${api().baseUrl}${path}`, { redirect: 'manual' });
      await res.arrayBuffer();
      return res.status;
    };

    it('deletes files and logs of tasks past retention; keeps pinned ones and inputs a retry still needs', async () => {
      const expiring = await run('expiring', { log_lines: 3 });
      const pinned = await run('pinned', { log_lines: 3 });
      expect((await api().request('PUT', `/tasks/${pinned}/pin`)).body).toEqual({ task_id: pinned, pinned: true });
      const usageBefore = (await api().get('/usage')).body.used_bytes as number;
      offset.ms += 10_000;
      // A retry, finished "now": it shares the master of `expiring` and is not due yet.
      const retried = await api().post(`/tasks/${expiring}/retry`, {});
      expect(retried.status).toBe(200);
      const retry = retried.body.new_task_id as string;
      await waitEnded(retry);
      const sharedMaster = await masterKey(expiring);
      expect(await masterKey(retry)).toBe(sharedMaster);
      const expiringOutputs = await outputKeys(expiring);
      expect(expiringOutputs.length).toBeGreaterThan(0);

      const first = await sweepRetention({
        db: portal.db,
        store: portal.store,
        clock: () => Date.now() + offset.ms,
        filesDays: Number(RETENTION_DAYS),
        logDays: Number(RETENTION_DAYS),
        batchSize: 1, // several batches
      });
      expect(first.ran).toBe(true);
      expect(first.filesExpired).toContain(expiring);
      expect(first.filesExpired).not.toContain(pinned);
      expect(first.filesExpired).not.toContain(retry);
      expect(first.logsExpired).toContain(expiring);

      // Metadata and history stay; downloads answer 410 with a clear detail.
      const detail = (await api().get(`/tasks/${expiring}/detail`)).body;
      expect(detail.status).toBe('SUCCESS');
      expect(detail.files_expired_at).toEqual(expect.any(Number));
      expect(detail.logs_expired_at).toEqual(expect.any(Number));
      expect(detail.download_url).toBeNull();
      expect(detail.status_history.map((h: { status: string }) => h.status)).toEqual([
        'UPLOADING',
        'PENDING',
        'RUNNING',
        'SUCCESS',
      ]);
      for (const path of [
        `/tasks/${expiring}/outputs.zip`,
        `/tasks/${expiring}/outputs/report.html`,
        `/tasks/${expiring}/files/master`,
        `/tasks/${expiring}/logs`,
      ]) {
        const res = await api().get(path);
        expect(res.status, path).toBe(410);
        expect(res.body.code).toBe('FILES_EXPIRED');
        expect(res.body.detail).toMatch(/RETENTION_DAYS/);
      }
      const outputs = (await api().get(`/tasks/${expiring}/outputs`)).body;
      expect(outputs.files.map((f: { name: string }) => f.name)).toEqual(['report.html']);
      expect(outputs.download_url).toBeNull();
      for (const key of expiringOutputs) expect(await stored(key)).toBe(false);
      expect(await portal.db.selectFrom('task_logs').select('seq').where('task_id', '=', expiring).execute()).toEqual(
        [],
      );
      // The shared master stays for the retry, which still downloads it.
      expect(await stored(sharedMaster)).toBe(true);
      expect([200, 302]).toContain(await fetchStatus(`/tasks/${retry}/files/master`));
      // Pinned: everything kept.
      expect([200, 302]).toContain(await fetchStatus(`/tasks/${pinned}/outputs.zip`));
      expect((await api().get(`/tasks/${pinned}/logs`)).body.content).toContain('LINE');
      for (const key of await outputKeys(pinned)) expect(await stored(key)).toBe(true);
      // Retrying or pinning an expired task: 410.
      expect((await api().post(`/tasks/${expiring}/retry`, {})).body.code).toBe('FILES_EXPIRED');
      expect((await api().request('PUT', `/tasks/${expiring}/pin`)).status).toBe(410);
      expect((await api().get('/usage')).body.used_bytes).toBeLessThan(usageBefore + 100_000);

      // Once the retry is due too, the shared master goes.
      offset.ms += 10_000;
      const second = await sweepRetention({
        db: portal.db,
        store: portal.store,
        clock: () => Date.now() + offset.ms,
        filesDays: Number(RETENTION_DAYS),
        logDays: undefined,
      });
      expect(second.filesExpired).toEqual([retry]);
      expect(await stored(sharedMaster)).toBe(false);
      expect((await api().get(`/tasks/${retry}`)).body.master.upload_status).toBe('EXPIRED');
      expect((await api().get(`/tasks/${retry}/logs`)).status).toBe(200); // logs not swept this time
      // Unpinned, the pinned task goes with the next sweep.
      expect((await api().request('DELETE', `/tasks/${pinned}/pin`)).body.pinned).toBe(false);
      const third = await sweepRetention({
        db: portal.db,
        store: portal.store,
        clock: () => Date.now() + offset.ms,
        filesDays: Number(RETENTION_DAYS),
        logDays: Number(RETENTION_DAYS),
      });
      expect(third.filesExpired).toEqual([pinned]);
      expect((await api().get('/usage')).body.used_bytes).toBe(0);
    });

    it('finishes after a restart a sweep that was cut off between marking a task and deleting its files', async () => {
      const task = await run('cut off');
      const keys = [...(await outputKeys(task)), await masterKey(task)];
      // The state a sweep killed right after its first step leaves: marked, nothing deleted.
      await portal.db.updateTable('tasks').set({ files_expired_at: Date.now() }).where('task_id', '=', task).execute();
      expect((await api().get(`/tasks/${task}/outputs.zip`)).status).toBe(410);
      for (const key of keys) expect(await stored(key)).toBe(true);
      await portal.app.close();
      portal = await startPortal(env, dataDir, offset);
      const result = await portal.retention!.runNow();
      await portal.retention!.stop();
      expect(result.filesExpired).toContain(task);
      for (const key of keys) expect(await stored(key)).toBe(false);
      const row = await portal.db
        .selectFrom('tasks')
        .select('files_purged_at')
        .where('task_id', '=', task)
        .executeTakeFirstOrThrow();
      expect(row.files_purged_at).not.toBeNull();
    });
  });
}

retentionSuite('filesystem + SQLite', async () => ({ env: {}, close: async () => {} }));

const s3 = s3TestOptions('retention on S3 + PostgreSQL');
const pgServer = pgTestUrl('retention on S3 + PostgreSQL');
describe.skipIf(!s3 || !pgServer)('S3 + PostgreSQL', () => {
  retentionSuite('S3 (Swift) + PostgreSQL', async () => {
    const database = await createPgDatabase(pgServer!);
    return { env: { ...s3PortalEnv(s3!), DATABASE_URL: database.url }, close: () => database.drop() };
  });
});
