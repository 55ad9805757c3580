/**
 * PostgreSQL goes away and comes back: the API answers 503 DATABASE_UNAVAILABLE and says so
 * once in its log, a CLI and a browser upload wait and finish, a running job is neither
 * stopped nor run twice by an outage longer than its lease and loses no log line, and a
 * server started before the database waits for it.
 *
 * The database is this file's own cluster (startPrivatePostgres), started once for the file
 * and stopped and started by the tests: the shared one other test files use never sees an
 * outage. The SPEOS solver is the TEST DOUBLE packages/test-support/src/fake-speos.mjs
 * (SPEOS cannot be installed here). Each scenario prints `[measured]` lines: the time from the
 * database's return to the client's or job's completion.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { RETRY_AFTER_SECONDS } from '@speos-portal/protocol';
import { TestApi } from '@speos-portal/test-support/api.js';
import { partsSaved, startCli, waitFor } from '@speos-portal/test-support/cli.js';
import { startFaultProxy } from '@speos-portal/test-support/fault-proxy.js';
import { md5Stored, writeRandomFile } from '@speos-portal/test-support/files.js';
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import {
  CLI,
  freePort,
  startServe,
  startTestPortal,
  type TestPortal,
  tempDir,
} from '@speos-portal/test-support/portal.js';
import {
  destroyPrivateServices,
  type PrivatePostgres,
  postgresSkipReason,
  startPrivatePostgres,
} from '@speos-portal/test-support/private-services.js';
import { createPgDatabase, type TestDatabase } from '@speos-portal/test-support/services.js';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPortal } from '../../packages/server/src/app.js';
import { loadConfig } from '../../packages/server/src/config.js';
import { isDatabaseUnavailable } from '../../packages/server/src/db/availability.js';
import { openDatabase } from '../../packages/server/src/db/connect.js';
import { openObjectStore } from '../../packages/server/src/storage/open-store.js';
import { loadWorkerConfig } from '../../packages/server/src/worker/config.js';
import { UNWRITTEN_LOG_FILE } from '../../packages/server/src/worker/runner.js';
import { Worker } from '../../packages/server/src/worker/worker.js';
import {
  type Browser,
  skipReason as browserSkipReason,
  launchBrowser,
  MiB,
  makeFile,
  savedUploads,
  screenshot,
  startFormUpload,
  WEB_DIST,
} from './support.js';

const reason = postgresSkipReason();
if (reason) console.warn(`[skipped] PostgreSQL outage tests: ${reason}`);
const browserReason = browserSkipReason();

const COMMAND = `${process.execPath} ${FAKE} {master}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * An outage scenario takes 10–40 s here; on a machine other test runs keep busy, starting
 * servers and building Swift's rings can take minutes.
 */
const SCENARIO_MS = 5 * 60_000;
const SETUP_MS = 12 * 60_000;
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

describe.skipIf(reason !== undefined)('a PostgreSQL outage', () => {
  let pg: PrivatePostgres;
  let files: string;
  const databases: TestDatabase[] = [];

  beforeAll(async () => {
    pg = await startPrivatePostgres();
    files = await tempDir('speos-pg-outage-');
  }, SETUP_MS);

  // A test that failed mid-outage leaves the cluster stopped: the next one starts it again.
  beforeEach(() => pg.start(), SETUP_MS);

  afterAll(async () => {
    await pg?.start().catch(() => {});
    for (const db of databases) await db.drop().catch(() => {});
    await destroyPrivateServices();
    if (files) await rm(files, { recursive: true, force: true });
  }, SETUP_MS);

  async function database(): Promise<string> {
    const db = await createPgDatabase(pg.url);
    databases.push(db);
    return db.url;
  }

  /** Stops PostgreSQL now; `back()` starts it again and resolves with the moment it answers. */
  async function takeDown(): Promise<{ back(): Promise<number> }> {
    await pg.stop();
    return {
      async back() {
        await pg.start();
        return Date.now();
      },
    };
  }

  it(
    'answers 503 DATABASE_UNAVAILABLE with Retry-After, logs it once at warn, and /readyz names the database',
    async () => {
      const lines: { level: number; msg: string }[] = [];
      const stream = new Writable({
        write(chunk, _encoding, done) {
          for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
          done();
        },
      });
      const dataDir = await tempDir('speos-pg-503-');
      const port = await freePort();
      const config = loadConfig({ PORT: String(port), DATA_DIR: dataDir, DATABASE_URL: await database() });
      const { app } = await createPortal(config, { logger: pino({ level: 'info' }, stream) });
      await app.listen({ port, host: '127.0.0.1' });
      const api = new TestApi(`http://127.0.0.1:${port}`);
      // A connection checked out (in a transaction) when the database goes: pg then emits
      // 'error' on the client itself, which would end the process if nobody listened.
      const db = await openDatabase(config.databaseUrl, dataDir);
      let release: () => void = () => {};
      const held = db.transaction().execute(async (trx) => {
        await trx.selectFrom('tasks').select('task_id').limit(1).execute();
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        await trx.selectFrom('tasks').select('task_id').limit(1).execute();
      });
      try {
        expect((await api.get('/tasks')).status).toBe(200);
        const outage = await takeDown();
        release();
        const heldError = await held.catch((error: unknown) => error);
        expect(isDatabaseUnavailable(heldError)).toBe(true);
        for (let i = 0; i < 10; i++) {
          const res = await api.get('/tasks');
          expect(res.status).toBe(503);
          expect(res.body).toEqual({
            code: 'DATABASE_UNAVAILABLE',
            detail: expect.stringMatching(/^The database cannot be reached \(\w+\); try again shortly\.$/),
          });
          expect(res.headers.get('retry-after')).toBe(String(RETRY_AFTER_SECONDS));
        }
        const init = await api.init({ filename: 'a.speos', file_size: 10 });
        expect(init.status).toBe(503);
        expect(init.body.code).toBe('DATABASE_UNAVAILABLE');
        const ready = await api.get('/readyz');
        expect(ready.status).toBe(503);
        expect(ready.body).toMatchObject({ code: 'DATABASE_UNAVAILABLE', database: 'unreachable', storage: 'ok' });
        expect(ready.body.detail).toMatch(/^Not ready: the database cannot be reached \(\w+\)\.$/);

        const back = await outage.back();
        await waitFor(async () => (await api.get('/tasks')).status === 200, 30_000, 'the API to answer again');
        console.log(`[measured] API: ${Date.now() - back} ms from PostgreSQL's return to the first 200`);

        const said = (text: string) => lines.filter((l) => l.msg.includes(text));
        expect(said('the database cannot be reached')).toHaveLength(1);
        expect(said('the database cannot be reached')[0]!.level).toBe(40);
        expect(said('the database answers again')).toHaveLength(1);
        expect(said('the database answers again')[0]!.level).toBe(40);
        expect(lines.filter((l) => l.level >= 50)).toEqual([]);
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        expect(metrics).toMatch(/speos_errors_total\{code="DATABASE_UNAVAILABLE"\} (1[1-9]|[2-9]\d)/);
      } finally {
        release();
        await held.catch(() => {});
        await db.destroy();
        await app.close();
        await rm(dataDir, { recursive: true, force: true });
      }
    },
    SCENARIO_MS,
  );

  it(
    'waits for the database at start-up (a line per attempt), then fails as before when it stays away',
    async () => {
      const url = await database();
      const dataDir = await tempDir('speos-pg-start-');
      const outage = await takeDown();
      const port = await freePort();
      const serve = (env: Record<string, string>) =>
        startServe(CLI, { PORT: String(port), DATA_DIR: dataDir, DATABASE_URL: url, LOG_LEVEL: 'info', ...env });
      let waiting: ReturnType<typeof startServe> | undefined;
      try {
        const impatient = serve({ DATABASE_WAIT_SECONDS: '1' });
        expect(await impatient.exited).toBe(1);
        expect(impatient.output()).toMatch(
          /speos-portal: could not start: DATABASE_URL: cannot connect to PostgreSQL at 127\.0\.0\.1:\d+\/\w+ \(ECONNREFUSED.*waited \d+ s \(DATABASE_WAIT_SECONDS\)\)/,
        );

        const patient = serve({ DATABASE_WAIT_SECONDS: '60' });
        waiting = patient;
        await waitFor(
          () => (patient.output().match(/database not reachable yet \(ECONNREFUSED\)/g) ?? []).length >= 2,
          30_000,
          'two waiting lines',
        );
        expect(patient.output()).toMatch(/"level":40.*"attempt":1/);
        const back = await outage.back();
        await waitFor(
          async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok === true,
          30_000,
          'the server to start',
        );
        console.log(`[measured] start-up: ${Date.now() - back} ms from PostgreSQL's return to /healthz answering`);
        expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      } finally {
        await pg.start();
        waiting?.child.kill('SIGTERM');
        await waiting?.exited;
        await rm(dataDir, { recursive: true, force: true });
      }
    },
    SCENARIO_MS,
  );

  it(
    'a CLI upload waits for the database during complete and finishes when it is back',
    async () => {
      const portal = await startTestPortal({ DATABASE_URL: await database() });
      // Parts go through a throttle, so the outage begins while parts are still being sent.
      const proxy = await startFaultProxy(portal.url, { bytesPerSecond: 12 * MiB });
      try {
        const file = path.join(files, 'cli.speos');
        const md5 = await writeRandomFile(file, 40 * MiB);
        const stateDir = path.join(files, 'state-cli');
        const cli = startCli([
          'upload',
          file,
          '--job-name',
          'PostgreSQL outage',
          '--server',
          proxy.url,
          '--state-dir',
          stateDir,
        ]);
        await waitFor(async () => (await partsSaved(stateDir)) >= 2, 120_000, '2 parts');
        const outage = await takeDown();
        await waitFor(() => /waiting for the server/.test(cli.stderr()), 60_000, 'the CLI to say it waits');
        await sleep(2000);
        const back = await outage.back();
        const { code } = await cli.exited;
        console.log(`[measured] CLI upload: ${Date.now() - back} ms from PostgreSQL's return to the CLI's exit`);
        expect(code).toBe(0);
        expect(cli.stderr()).toMatch(
          new RegExp(
            `waiting for the server at ${proxy.url} \\(HTTP 503 DATABASE_UNAVAILABLE\\); continuing by itself when it answers, for up to 10 min`,
          ),
        );
        expect(cli.stderr()).toMatch(/the server answers again after \d+ s; continuing/);
        const taskId = /submitted task ([0-9a-f-]{36})/.exec(cli.stderr())![1]!;
        expect(await md5Stored(portal.url, taskId)).toBe(md5);
        expect((await new TestApi(portal.url).get(`/tasks/${taskId}`)).body.status).toBe('PENDING');
      } finally {
        await pg.start();
        await proxy.close();
        await portal.close();
      }
    },
    SCENARIO_MS,
  );

  describe.skipIf(browserReason !== undefined)('in Chromium', () => {
    let portal: TestPortal;
    let browser: Browser;
    beforeAll(async () => {
      await pg.start();
      portal = await startTestPortal({ DATABASE_URL: await database(), WEB_DIR: WEB_DIST });
      browser = await launchBrowser();
    }, SETUP_MS);
    afterAll(async () => {
      await browser?.close();
      await portal?.close();
    });

    it(
      'a browser upload says it waits for the server, then submits the job when the database is back',
      async () => {
        const file = await makeFile(files, 'browser.speos', 30 * MiB);
        const page = await browser.context.newPage();
        await startFormUpload(page, portal.url, file, 'PostgreSQL outage in the browser', 8 * MiB);
        const outage = await takeDown();
        const note = page.getByText(
          /Waiting for the server \(HTTP 503 DATABASE_UNAVAILABLE\) — the upload continues by itself/,
        );
        await note.waitFor({ timeout: 60_000 });
        await screenshot(page, 'upload-waiting-for-the-server-en');
        // While it waits the row shows no speed or time left: they would describe the time before.
        expect(await page.locator('.job-meta').textContent()).not.toMatch(/left|\/s/);
        const back = await outage.back();
        const done = page.getByText(/Submitted — task /);
        await done.waitFor({ timeout: 120_000 }).catch(async (error: unknown) => {
          await screenshot(page, 'failed-upload-after-database-outage-en');
          throw error;
        });
        console.log(`[measured] browser upload: ${Date.now() - back} ms from PostgreSQL's return to "Submitted"`);
        const taskId = /[0-9a-f-]{36}/.exec((await done.textContent()) ?? '')![0];
        expect((await new TestApi(portal.url).get(`/tasks/${taskId}`)).body.status).toBe('PENDING');
        expect(await savedUploads(page)).toEqual([]);
      },
      SCENARIO_MS,
    );
  });

  it(
    'a job runs through an outage longer than its lease: not stopped, not run twice, its whole log kept',
    async () => {
      const url = await database();
      const dataDir = await tempDir('speos-pg-job-');
      const workDir = path.join(dataDir, 'work');
      const ledger = path.join(dataDir, 'ledger.txt');
      await writeFile(ledger, '');
      process.env.FAKE_SPEOS_LEDGER = ledger; // the solver processes inherit it
      const LEASE = 3;
      const portal = await startTestPortal(
        {
          DATABASE_URL: url,
          SPEOS_COMMAND_V252: COMMAND,
          WORKER_ID: 'owner',
          WORKER_LEASE_SECONDS: String(LEASE),
          WORKER_POLL_SECONDS: '0.2',
          WORKER_DIR: workDir,
        },
        { dataDir },
      );
      // Another worker on the same database (its own connections), as on a second machine: it
      // must not take the task over when the lease it sees lapsed is the outage's doing. It
      // runs another SPEOS version, so it cannot claim the job first; re-queueing lapsed
      // leases it does for every version.
      const rivalDb = await openDatabase(url, dataDir);
      const rival = new Worker({
        db: rivalDb,
        store: await openObjectStore(loadConfig({ DATA_DIR: dataDir })),
        clock: Date.now,
        config: loadWorkerConfig(
          {
            SPEOS_COMMAND_V251: COMMAND,
            WORKER_ID: 'rival',
            WORKER_LEASE_SECONDS: String(LEASE),
            // It looks far more often than the owner renews: without the lost-lease rule it
            // would re-queue the job as soon as the database is back.
            WORKER_POLL_SECONDS: '0.05',
            WORKER_DIR: path.join(dataDir, 'rival'),
          },
          dataDir,
        ),
      });
      rival.start();
      const api = new TestApi(portal.url);
      /** A GET that waits out the outage (the API answers 503 meanwhile). */
      const read = async (route: string) => {
        for (;;) {
          const res = await api.get(route);
          if (res.status === 200) return res.body;
          expect(res.status).toBe(503);
          await sleep(200);
        }
      };
      try {
        // 50 passes of 250 ms (or more on a busy machine), each printing 800 numbered lines of
        // 100 bytes (80 KB): megabytes of log during the outage, far past what the worker keeps
        // in memory. The solver is still running when the database comes back.
        const plan = {
          id: 'long',
          passes: 50,
          delay_ms: 250,
          log_lines: 800,
          outputs: { 'report.html': '<html>光强</html>' },
        };
        const master = Buffer.from(JSON.stringify(plan));
        const { init } = await api.uploadFile(master, { filename: 'long.speos' });
        const confirm = await api.post('/tasks/upload/confirm', {
          task_id: init.task_id,
          master_object_key: init.object_key,
          job_name: 'through the outage',
        });
        expect(confirm.status).toBe(200);
        const id = init.task_id as string;
        await waitFor(
          async () => ((await api.get(`/tasks/${id}/logs`)).body.content as string).includes('Pass 2/50'),
          30_000,
          'the solver to run',
        );
        const outage = await takeDown();
        const stopped = Date.now();
        const spill = path.join(workDir, id, UNWRITTEN_LOG_FILE);
        await waitFor(() => existsSync(spill), 120_000, 'the unwritten log to go to disk');
        await sleep(Math.max(0, LEASE * 3 * 1000 - (Date.now() - stopped))); // down for 3 leases at least
        expect((await api.get(`/tasks/${id}/logs`)).status).toBe(503);
        const back = await outage.back();
        await waitFor(() => !existsSync(spill), 30_000, 'the log to catch up');
        const caughtUp = Date.now();
        const done = await (async () => {
          for (;;) {
            const task = await read(`/tasks/${id}/detail`);
            if (task.status !== 'RUNNING' && task.status !== 'PENDING') return task;
            await sleep(100);
          }
        })();
        const finished = Date.now();
        // SUCCESS comes when the solver ends (its plan runs about 10 s in all), not at the return.
        console.log(
          `[measured] job: log caught up ${caughtUp - back} ms after PostgreSQL's return; SUCCESS after ${finished - back} ms`,
        );
        expect(done.status).toBe('SUCCESS');
        const history = done.status_history.map(
          (h: { status: string; message: string | null }) => `${h.status}:${h.message}`,
        );
        expect(history, JSON.stringify(history)).toEqual([
          'UPLOADING:null',
          'PENDING:submitted',
          'RUNNING:claimed by owner',
          'SUCCESS:null',
        ]);
        expect((await readFile(ledger, 'utf8')).trim().split('\n')).toEqual(['long']);
        // The whole log: every numbered line once, in order.
        let log = '';
        for (let offset = 0; ; ) {
          const chunk = await read(`/tasks/${id}/logs?offset=${offset}`);
          log += chunk.content;
          if (chunk.next_offset >= chunk.size) break;
          offset = chunk.next_offset;
        }
        const numbered = log.split('\n').filter((l) => l.startsWith('LINE '));
        const expected: string[] = [];
        for (let pass = 1; pass <= plan.passes; pass++) {
          for (let n = 1; n <= plan.log_lines; n++) {
            const head = `LINE ${pass}.${n} `;
            expected.push(head + '.'.repeat(99 - head.length));
          }
        }
        expect(numbered.length).toBe(expected.length);
        expect(numbered).toEqual(expected);
        expect(log).toContain('Pass 50/50 - 100% done');
        const outputs = await read(`/tasks/${id}/outputs`);
        expect(outputs.files.map((f: { name: string }) => f.name)).toEqual(['report.html']);
        const report = await (await fetch(`${portal.url}${outputs.files[0].url}`)).text();
        expect(sha256(report)).toBe(sha256(plan.outputs['report.html']));
      } finally {
        delete process.env.FAKE_SPEOS_LEDGER;
        await pg.start();
        await rival.stop();
        await rivalDb.destroy();
        await portal.close();
        await rm(dataDir, { recursive: true, force: true });
      }
    },
    SCENARIO_MS,
  );
});
