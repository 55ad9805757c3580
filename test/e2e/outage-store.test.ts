/**
 * The object store (Swift + s3api) goes away and comes back: a CLI and a browser upload wait
 * for it and finish; a job that ends while it is away keeps its results in its working
 * directory, says it waits ("storing results: waiting for the object store"), and stores
 * every output once it is back (sha256 of each checked) — or, past WORKER_OUTAGE_WAIT_HOURS,
 * fails saying where the results are kept, without deleting them.
 *
 * The store is this file's own Swift (startPrivateSwift), started once for the file; an outage
 * kills its proxy (the S3 endpoint) and starts it again. The shared Swift other test files use
 * never sees one. The SPEOS solver is the TEST DOUBLE packages/test-support/src/fake-speos.mjs.
 * Each scenario prints `[measured]` lines: the time from the store's return to the client's or
 * job's completion.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { TestApi } from '@speos-portal/test-support/api.js';
import { partsSaved, startCli, waitFor } from '@speos-portal/test-support/cli.js';
import { type FaultProxy, startFaultProxy } from '@speos-portal/test-support/fault-proxy.js';
import { md5Stored, writeRandomFile } from '@speos-portal/test-support/files.js';
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import { startTestPortal, type TestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import {
  destroyPrivateServices,
  type PrivateSwift,
  startPrivateSwift,
  swiftSkipReason,
} from '@speos-portal/test-support/private-services.js';
import { seededBytes } from '@speos-portal/test-support/seeded-bytes.mjs';
import { s3PortalEnv } from '@speos-portal/test-support/services.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../packages/server/src/config.js';
import { openDatabase } from '../../packages/server/src/db/connect.js';
import { closeObjectStore, openObjectStore } from '../../packages/server/src/storage/open-store.js';
import { loadWorkerConfig } from '../../packages/server/src/worker/config.js';
import { RESULTS_PENDING_FILE } from '../../packages/server/src/worker/runner.js';
import { Worker } from '../../packages/server/src/worker/worker.js';
import {
  type Browser,
  skipReason as browserSkipReason,
  launchBrowser,
  MiB,
  makeFile,
  screenshot,
  startFormUpload,
  until,
  WEB_DIST,
} from './support.js';

const reason = swiftSkipReason();
if (reason) console.warn(`[skipped] object store outage tests: ${reason}`);
const browserReason = browserSkipReason();

const COMMAND = `${process.execPath} ${FAKE} {master}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * An outage scenario takes 10–40 s here; on a machine other test runs keep busy, starting
 * servers and building Swift's rings can take minutes.
 */
const SCENARIO_MS = 5 * 60_000;
const SETUP_MS = 12 * 60_000;
const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

describe.skipIf(reason !== undefined)('an object store outage', () => {
  let swift: PrivateSwift;
  let files: string;

  beforeAll(async () => {
    swift = await startPrivateSwift();
    files = await tempDir('speos-store-outage-');
  }, SETUP_MS);

  // A test that failed mid-outage leaves the store's proxy stopped: the next one starts it again.
  beforeEach(() => swift.start(), SETUP_MS);

  afterAll(async () => {
    await destroyPrivateServices();
    if (files) await rm(files, { recursive: true, force: true });
  }, SETUP_MS);

  /** Kills the store's S3 endpoint now; `back()` starts it again and resolves with the moment it answers. */
  async function takeDown(): Promise<{ back(): Promise<number> }> {
    await swift.stop();
    return {
      async back() {
        await swift.start();
        return Date.now();
      },
    };
  }

  const portalEnv = () => s3PortalEnv({ ...swift.s3, forcePathStyle: true });

  it(
    'a CLI upload waits for the storage and finishes when it is back',
    async () => {
      // The CLI reaches the store through a throttle (so the outage begins mid-upload) that,
      // like a TCP proxy, drops the connection when the store is gone.
      let throttle: FaultProxy | undefined;
      let portal: TestPortal | undefined;
      try {
        throttle = await startFaultProxy(swift.s3.endpoint, {
          bytesPerSecond: 12 * MiB,
          preserveHost: true,
          resetWhenTargetDown: true,
        });
        portal = await startTestPortal({ ...portalEnv(), S3_PUBLIC_ENDPOINT: throttle.url });
        const file = path.join(files, 'cli.speos');
        const md5 = await writeRandomFile(file, 40 * MiB);
        const stateDir = path.join(files, 'state-cli');
        const cli = startCli([
          'upload',
          file,
          '--job-name',
          'store outage',
          '--server',
          portal.url,
          '--state-dir',
          stateDir,
        ]);
        await waitFor(async () => (await partsSaved(stateDir)) >= 2, 120_000, '2 parts');
        const outage = await takeDown();
        await waitFor(() => /waiting for the storage/.test(cli.stderr()), 60_000, 'the CLI to say it waits');
        await sleep(2000);
        const back = await outage.back();
        await waitFor(() => /answers again/.test(cli.stderr()), 60_000, 'the CLI to go on');
        const resumed = Date.now();
        const { code } = await cli.exited;
        console.log(
          `[measured] CLI upload: going on ${resumed - back} ms after the store's return, done (the rest of the 40 MiB at 12 MiB/s) after ${Date.now() - back} ms`,
        );
        expect(code).toBe(0);
        expect(cli.stderr()).toMatch(
          new RegExp(`waiting for the storage at ${throttle.url} \\(\\w+\\); continuing by itself when it answers`),
        );
        expect(cli.stderr()).toMatch(/the storage answers again after \d+ s; continuing/);
        const taskId = /submitted task ([0-9a-f-]{36})/.exec(cli.stderr())![1]!;
        expect(await md5Stored(portal.url, taskId)).toBe(md5);
      } finally {
        await swift.start();
        await throttle?.close();
        await portal?.close();
      }
    },
    SCENARIO_MS,
  );

  describe.skipIf(browserReason !== undefined)('in Chromium', () => {
    let portal: TestPortal;
    let browser: Browser;
    beforeAll(async () => {
      await swift.start();
      portal = await startTestPortal({ ...portalEnv(), WEB_DIR: WEB_DIST });
      browser = await launchBrowser();
    }, SETUP_MS);
    afterAll(async () => {
      await browser?.close();
      await portal?.close();
    });

    it(
      'a browser upload says it waits for the storage, then finishes when it is back',
      async () => {
        const file = await makeFile(files, 'browser.speos', 30 * MiB);
        const page = await browser.context.newPage();
        await startFormUpload(page, portal.url, file, 'store outage in the browser', 8 * MiB);
        const outage = await takeDown();
        await page
          .getByText(/Waiting for the storage \(no answer\) — the upload continues by itself/)
          .waitFor({ timeout: 60_000 });
        await screenshot(page, 'upload-waiting-for-the-storage-en');
        expect(await page.locator('.job-meta').textContent()).not.toMatch(/left|\/s/);
        await sleep(1000);
        const back = await outage.back();
        await page.getByText(/Waiting for the storage/).waitFor({ state: 'detached', timeout: 60_000 });
        const resumed = Date.now();
        const done = page.getByText(/Submitted — task /);
        await done.waitFor({ timeout: 120_000 }).catch(async (error: unknown) => {
          await screenshot(page, 'failed-upload-after-store-outage-en');
          throw error;
        });
        console.log(
          `[measured] browser upload: going on ${resumed - back} ms after the store's return, "Submitted" (the rest at 8 MiB/s) after ${Date.now() - back} ms`,
        );
        const taskId = /[0-9a-f-]{36}/.exec((await done.textContent()) ?? '')![0];
        expect(await md5Stored(portal.url, taskId)).toBe(
          createHash('md5')
            .update(await readFile(file))
            .digest('hex'),
        );
      },
      SCENARIO_MS,
    );
  });

  it(
    'a job that ends while the store is away keeps its results and stores every one when it is back',
    async () => {
      const dataDir = await tempDir('speos-store-job-');
      const portal = await startTestPortal(portalEnv(), { dataDir });
      const api = new TestApi(portal.url);
      // Two workers on the portal's database: one waits as long as it takes (the default
      // 24 h), one gives up after 2 s. Each runs one SPEOS version, so each gets its own job.
      const config = loadConfig({ DATA_DIR: dataDir, ...portalEnv() });
      const db = await openDatabase(undefined, dataDir);
      const store = await openObjectStore(config);
      const worker = (id: string, env: Record<string, string>) =>
        new Worker({
          db,
          store,
          clock: Date.now,
          config: loadWorkerConfig(
            { WORKER_ID: id, WORKER_POLL_SECONDS: '0.2', WORKER_DIR: path.join(dataDir, id), ...env },
            dataDir,
          ),
        });
      const patient = worker('patient', { SPEOS_COMMAND_V252: COMMAND });
      const impatient = worker('impatient', { SPEOS_COMMAND_V251: COMMAND, WORKER_OUTAGE_WAIT_HOURS: '0.0006' });
      // A third one starts only once the store is away: it cannot download its job's inputs yet.
      const late = worker('late', { SPEOS_COMMAND_V242: COMMAND });
      patient.start();
      impatient.start();
      const task = async (id: string) => (await api.get(`/tasks/${id}/detail`)).body;
      const submit = async (name: string, version: string, plan: Record<string, unknown>) => {
        const { init } = await api.uploadFile(Buffer.from(JSON.stringify(plan)), { filename: `${name}.speos` });
        const res = await api.post('/tasks/upload/confirm', {
          task_id: init.task_id,
          master_object_key: init.object_key,
          job_name: name,
          version,
        });
        expect(res.status).toBe(200);
        return init.task_id as string;
      };
      try {
        const plan = {
          passes: 12,
          delay_ms: 250,
          outputs: { 'report.html': '<html>照度 1200 lx</html>', 'sub dir/result.xmp': 'XMP'.repeat(5000) },
          seeded_outputs: { 'results/irradiance.bin': [6 * MiB + 17, 'irradiance'] },
        };
        const expected: Record<string, string> = {
          'report.html': sha256(plan.outputs['report.html']),
          'sub dir/result.xmp': sha256(plan.outputs['sub dir/result.xmp']),
          'results/irradiance.bin': sha256(seededBytes(6 * MiB + 17, 'irradiance')),
        };
        const kept = await submit('kept', 'v252', plan);
        const given = await submit('given up', 'v251', plan);
        const delayed = await submit('inputs later', 'v242', { outputs: { 'late.txt': '晚到的结果' } });
        for (const id of [kept, given]) {
          await waitFor(
            async () => ((await api.get(`/tasks/${id}/logs`)).body.content as string).includes('Pass 2/12'),
            30_000,
            'the solvers to run',
          );
        }
        const outage = await takeDown();
        late.start();
        const waiting = await until(
          'the task to say it waits',
          async () => {
            const t = await task(kept);
            return (
              t.status === 'RUNNING' && /^storing results: waiting for the object store/.test(t.message ?? '') && t
            );
          },
          60_000,
        );
        expect(waiting.message).toMatch(/^storing results: waiting for the object store \(ECONNREFUSED\)$/);
        const keptDir = path.join(dataDir, 'patient', kept);
        expect(existsSync(path.join(keptDir, RESULTS_PENDING_FILE))).toBe(true);
        expect(existsSync(path.join(keptDir, 'input', 'results', 'irradiance.bin'))).toBe(true);
        const ready = await api.get('/readyz');
        expect(ready.status).toBe(503);
        expect(ready.body).toMatchObject({ code: 'STORAGE_UNAVAILABLE', database: 'ok', storage: 'unreachable' });

        // The impatient worker gives up, says where the results are, and deletes nothing.
        const failed = await until(
          'the impatient worker to give up',
          async () => {
            const t = await task(given);
            return t.status !== 'RUNNING' && t;
          },
          60_000,
        );
        const givenDir = path.join(dataDir, 'impatient', given);
        expect(failed.status).toBe('FAILURE');
        expect(failed.message).toMatch(
          /^the results could not be stored \(ECONNREFUSED\); they are kept on worker impatient \(the task's internal detail names the folder\)$/,
        );
        expect(sha256(await readFile(path.join(givenDir, 'input', 'results', 'irradiance.bin')))).toBe(
          expected['results/irradiance.bin'],
        );

        const lateWait = await until(
          'the late job to wait for its inputs',
          async () => {
            const t = await task(delayed);
            return t.status === 'RUNNING' && t.message && t;
          },
          60_000,
        );
        expect(lateWait.message).toBe('preparing inputs: waiting for the object store (ECONNREFUSED)');

        const back = await outage.back();
        const done = await until(
          'the job to finish',
          async () => {
            const t = await task(kept);
            return t.status !== 'RUNNING' && t;
          },
          60_000,
        );
        console.log(`[measured] job: ${Date.now() - back} ms from the store's return to SUCCESS`);
        expect(done.status).toBe('SUCCESS');
        expect(done.message).toBeNull();
        const outputs = (await api.get(`/tasks/${kept}/outputs`)).body;
        expect(outputs.files.map((f: { name: string }) => f.name).sort()).toEqual(Object.keys(expected).sort());
        for (const file of outputs.files as { name: string; url: string; size: number }[]) {
          const body = new Uint8Array(await (await fetch(`${portal.url}${file.url}`)).arrayBuffer());
          expect(sha256(body), file.name).toBe(expected[file.name]);
          expect(body.length).toBe(file.size);
        }
        expect(existsSync(keptDir)).toBe(false);
        const log = (await api.get(`/tasks/${kept}/logs`)).body.content as string;
        expect(log).toMatch(
          /\[speos-portal\] storing results: waiting for the object store \(.*\); retrying until \d{4}-/,
        );
        expect(log).toMatch(/\[speos-portal\] the object store answers again after \d+ s; storing the results\n/);
        expect(log).toMatch(/\[speos-portal\] stored 3 result file\(s\)\n$/);
        expect(done.status_history.map((h: { status: string }) => h.status)).toEqual([
          'UPLOADING',
          'PENDING',
          'RUNNING',
          'SUCCESS',
        ]);

        // The late job got its inputs once the store was back, and ran.
        const lateDone = await until(
          'the late job to finish',
          async () => {
            const t = await task(delayed);
            return t.status !== 'RUNNING' && t;
          },
          60_000,
        );
        expect(lateDone.status).toBe('SUCCESS');
        const lateOutputs = (await api.get(`/tasks/${delayed}/outputs`)).body;
        const lateText = await (await fetch(`${portal.url}${lateOutputs.files[0].url}`)).text();
        expect(sha256(lateText)).toBe(sha256('晚到的结果'));
        expect((await api.get(`/tasks/${delayed}/logs`)).body.content).toMatch(
          /\[speos-portal\] preparing inputs: waiting for the object store \(ECONNREFUSED\); retrying until .*\n\[speos-portal\] the object store answers again after \d+ s; downloading the inputs\n/,
        );
      } finally {
        await swift.start();
        await patient.stop();
        await impatient.stop();
        await late.stop();
        closeObjectStore(store);
        await db.destroy();
        await portal.close();
        await rm(dataDir, { recursive: true, force: true });
      }
    },
    SCENARIO_MS,
  );
});
