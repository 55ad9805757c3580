/**
 * The worker end to end: real server, real SQLite, real files, real child processes.
 * The solver is a TEST DOUBLE (test-support/fake-speos.mjs): SPEOS cannot be installed
 * here, so a small script stands in for it — it reads the master, prints progress,
 * writes result files and exits with the code the master asks for, or runs until stopped.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestApi } from '@speos-portal/test-support/api.js';
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import { startTestPortal, type TestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { waitFor } from '@speos-portal/test-support/wait.js';
import { strToU8, unzipSync, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/connect.js';
import { openObjectStore } from '../storage/open-store.js';
import { loadWorkerConfig } from './config.js';
import { Worker } from './worker.js';

const COMMAND = `${process.execPath} ${FAKE} {master} -t {thread_count} -p {priority} --job={job_name}`;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Uploads a master (and include) and confirms; returns the task id. */
async function submit(api: TestApi, master: Buffer, options: Record<string, unknown> = {}, include?: Buffer) {
  const { filename = 'model.speos', ...confirm } = options;
  const { init } = await api.uploadFile(master, { filename });
  let includeKey: string | undefined;
  if (include)
    includeKey = (await api.uploadFile(include, { filename: 'inc.zip', file_type: 'include' })).init.object_key;
  const res = await api.post('/tasks/upload/confirm', {
    task_id: init.task_id,
    master_object_key: init.object_key,
    include_object_key: includeKey,
    job_name: 'headlamp',
    ...confirm,
  });
  expect(res.status).toBe(200);
  return init.task_id as string;
}

const plan = (p: Record<string, unknown>) => Buffer.from(JSON.stringify(p));

describe('worker with an in-process server', () => {
  let portal: TestPortal;
  let api: TestApi;
  beforeAll(async () => {
    portal = await startTestPortal({ SPEOS_COMMAND_V252: COMMAND, WORKER_STOP_GRACE_SECONDS: '2' });
    api = new TestApi(portal.url);
  });
  afterAll(() => portal.close());

  const task = (id: string) => api.get(`/tasks/${id}/detail`).then((r) => r.body);
  const until = (id: string, status: string) =>
    waitFor(
      () => task(id),
      (t) => t.status === status,
      `task ${status}`,
    );

  it('runs a task to SUCCESS with progress, log and downloadable outputs', async () => {
    const outputs = { 'report.html': '<html>光强</html>', 'sub dir/result.xmp': 'XMP'.repeat(1000) };
    const id = await submit(api, plan({ passes: 3, outputs }), {
      thread_count: 4,
      priority: 1,
      ray_count: 5000,
      use_gpu: true,
    });
    const done = await until(id, 'SUCCESS');
    expect(done.status_history.map((h: { status: string }) => h.status)).toEqual([
      'UPLOADING',
      'PENDING',
      'RUNNING',
      'SUCCESS',
    ]);
    expect(done.progress_info).toMatchObject({ progress_percent: 100, current_pass: 3, total_passes: 3 });
    expect(done.started_at).toBeGreaterThan(0);
    expect(done.duration).toMatch(/^0:00:\d\d$/);
    const log = (await api.get(`/tasks/${id}/logs?offset=0`)).body;
    expect(log.finished).toBe(true);
    expect(log.content).toContain('Pass 3/3 - 100% done');
    const argv = JSON.parse(/ARGV (.*)/.exec(log.content)![1]!);
    expect(argv.slice(1)).toEqual(['-t', '4', '-p', '1', '--job=headlamp', '-r', '5000', '-G']);
    const listed = (await api.get(`/tasks/${id}/outputs`)).body;
    expect(listed.files.map((f: { name: string }) => f.name)).toEqual(['report.html', 'sub dir/result.xmp']);
    for (const file of listed.files) {
      const res = await fetch(`${portal.url}${file.url}`);
      expect(await res.text()).toBe(outputs[file.name as keyof typeof outputs]);
      // A solver's report.html is a download, never a page of this origin.
      expect(res.headers.get('content-type')).toBe('application/octet-stream');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-disposition')).toMatch(/^attachment; /);
    }
    const zipped = await fetch(`${portal.url}/tasks/${id}/outputs.zip`);
    expect(zipped.headers.get('content-type')).toBe('application/zip');
    expect(zipped.headers.get('x-content-type-options')).toBe('nosniff');
    await zipped.arrayBuffer();
    expect(done.download_url).toBe(`/tasks/${id}/outputs.zip`);
    const zip = unzipSync(new Uint8Array(await (await fetch(`${portal.url}${done.download_url}`)).arrayBuffer()));
    expect(Buffer.from(zip['report.html']!).toString()).toBe(outputs['report.html']);
    expect(Buffer.from(zip['sub dir/result.xmp']!).toString()).toBe(outputs['sub dir/result.xmp']);
    const paged = (await api.get(`/tasks/${id}/logs?offset=10&limit=20`)).body;
    expect(paged.content).toBe(Buffer.from(log.content).subarray(10, 30).toString());
    expect(paged.next_offset).toBe(30);
  });

  it('marks a failing run FAILURE with the exit code and the log tail', async () => {
    const id = await submit(api, plan({ exit: 3, stderr: 'Licence server not reachable' }));
    const failed = await until(id, 'FAILURE');
    expect(failed.message).toBe('SPEOS stopped with exit code 3');
    expect(failed.error_detail).toContain('Licence server not reachable');
  });

  it('stops a running solver and its children; the processes are really gone', async () => {
    const id = await submit(api, plan({ hang: true, child: true }));
    const log = await waitFor(
      () => api.get(`/tasks/${id}/logs`).then((r) => r.body.content as string),
      (text) => text.includes('simulating forever'),
      'the solver to run',
    );
    const pids = /PIDS (.*)/.exec(log)![1]!.split(' ').map(Number);
    expect(pids.every(alive)).toBe(true);
    const stop = await api.post(`/tasks/${id}/stop`, {});
    expect(stop.status).toBe(200);
    expect(stop.body).toMatchObject({
      task_id: id,
      status: 'CANCELLED',
      lock_released: true,
      previous_status: { status: 'RUNNING', started_at: expect.any(Number) },
    });
    // The solver handles SIGTERM (so does its child, by dying): nothing needed SIGKILL.
    expect(stop.body.terminated_processes).toEqual(
      expect.arrayContaining(pids.map((pid) => ({ pid, name: 'node', method: 'terminated' }))),
    );
    await waitFor(
      async () => pids.filter(alive),
      (left) => left.length === 0,
      'the processes to end',
      10_000,
    );
    expect((await task(id)).status).toBe('CANCELLED');
    const again = await api.post(`/tasks/${id}/stop`, {});
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('TASK_NOT_RUNNING');
  });

  it('runs a zipped master with its include archive extracted beside it', async () => {
    const master = Buffer.from(
      zipSync({ 'model/car.speos': strToU8(JSON.stringify({ require: ['materials/glass.txt'] })) }),
    );
    const include = Buffer.from(zipSync({ 'model/materials/glass.txt': strToU8('n=1.5') }));
    const id = await submit(api, master, { filename: 'car.zip' }, include);
    await until(id, 'SUCCESS');
  });

  it('fails clearly when a zipped master has no model, or an archive is unsafe', async () => {
    const none = await submit(api, Buffer.from(zipSync({ 'readme.txt': strToU8('hi') })), { filename: 'empty.zip' });
    expect((await until(none, 'FAILURE')).message).toBe('empty.zip contains no .speos or .sv5 file');
    const two = await submit(api, Buffer.from(zipSync({ 'a.speos': strToU8('{}'), 'b.sv5': strToU8('{}') })), {
      filename: 'two.zip',
    });
    expect((await until(two, 'FAILURE')).message).toContain('contains 2 SPEOS models');
    const evil = await submit(api, plan({}), {}, Buffer.from(zipSync({ '../../escape.txt': strToU8('x') })));
    expect((await until(evil, 'FAILURE')).message).toBe('inc.zip contains an unsafe path "../../escape.txt"');
  });

  it('passes values with spaces, quotes and ; as single arguments, never through a shell', async () => {
    const marker = path.join(await tempDir(), 'pwned');
    const jobName = `a "b" 'c'; touch ${marker}; $(touch ${marker})`;
    const id = await submit(api, plan({}), { filename: `my "model"; rm -rf.speos`, job_name: jobName });
    await until(id, 'SUCCESS');
    const log = (await api.get(`/tasks/${id}/logs`)).body.content as string;
    const argv = JSON.parse(/ARGV (.*)/.exec(log)![1]!);
    expect(argv[5]).toBe(`--job=${jobName}`);
    expect(path.basename(argv[0])).toBe('my "model"; rm -rf.speos');
    expect(existsSync(marker)).toBe(false);
  });

  it('retries a finished task on the same inputs and deletes without freeing shared inputs', async () => {
    const id = await submit(api, plan({ exit: 1 }));
    await until(id, 'FAILURE');
    const retry = await api.post(`/tasks/${id}/retry`, { display_name: '第二次' });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ original_task_id: id, status: 'PENDING' });
    const child = await until(retry.body.new_task_id, 'FAILURE');
    expect(child).toMatchObject({ parent_task_id: id, retry_count: 1, display_name: '第二次', job_name: 'headlamp' });
    expect((await task(id)).retried_task_ids).toEqual([retry.body.new_task_id]);
    expect((await api.request('DELETE', `/tasks/${id}`)).status).toBe(204);
    expect((await api.get(`/tasks/${id}`)).status).toBe(404);
    // The retry still has its input.
    expect((await fetch(`${portal.url}/tasks/${retry.body.new_task_id}/files/master`)).status).toBe(200);
    expect((await api.request('DELETE', `/tasks/${retry.body.new_task_id}`)).status).toBe(204);
    const running = await submit(api, plan({ hang: true }));
    await until(running, 'RUNNING');
    const refused = await api.request('DELETE', `/tasks/${running}`);
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toContain('stop it first');
    expect((await api.post(`/tasks/${running}/retry`, {})).body.code).toBe('INVALID_STATE');
    await api.post(`/tasks/${running}/stop`, {});
  });
});

describe('stopping a task no worker has claimed', () => {
  it('cancels a PENDING task at once', async () => {
    const portal = await startTestPortal();
    try {
      const api = new TestApi(portal.url);
      const id = await submit(api, plan({}));
      const stop = await api.post(`/tasks/${id}/stop`, {});
      expect(stop.body).toEqual({
        task_id: id,
        status: 'CANCELLED',
        message: 'Task cancelled before it started',
        terminated_processes: [],
        lock_released: true,
        previous_status: { status: 'PENDING', started_at: null, progress_info: null },
      });
    } finally {
      await portal.close();
    }
  });
});

describe('bad requests to the task-control routes', () => {
  it('answers unknown tasks with 404 and bad values with 422, changing nothing', async () => {
    const portal = await startTestPortal();
    try {
      const api = new TestApi(portal.url);
      const unknown = crypto.randomUUID();
      for (const [method, url] of [
        ['POST', `/tasks/${unknown}/stop`],
        ['POST', `/tasks/${unknown}/retry`],
        ['DELETE', `/tasks/${unknown}`],
        ['GET', `/tasks/${unknown}/logs`],
        ['GET', `/tasks/${unknown}/outputs`],
        ['GET', `/tasks/${unknown}/outputs.zip`],
      ] as const) {
        const res = await api.request(method, url, method === 'POST' ? {} : undefined);
        expect(res.status, `${method} ${url}`).toBe(404);
        expect(res.body.code).toBe('TASK_NOT_FOUND');
      }
      const id = await submit(api, plan({}));
      for (const query of ['offset=-1', 'limit=0', 'offset=abc']) {
        const res = await api.get(`/tasks/${id}/logs?${query}`);
        expect(res.status, query).toBe(422);
      }
      const longName = await api.post(`/tasks/${id}/retry`, { display_name: 'x'.repeat(201) });
      expect(longName.status).toBe(422);
      expect(longName.body.detail).toContain('display_name must be at most 200 characters');
      const pendingRetry = await api.post(`/tasks/${id}/retry`, {});
      expect(pendingRetry.status).toBe(409);
      expect(pendingRetry.body.detail).toContain('stop it before retrying');
      expect((await api.get(`/tasks/${id}/outputs/report.html`)).body.code).toBe('NOT_FOUND');
      expect((await api.get(`/tasks/${id}/outputs/..%2F..%2Fetc%2Fpasswd`)).status).toBe(404);
      expect((await api.get(`/tasks/${id}`)).body.status).toBe('PENDING');
      expect((await api.get('/tasks')).body.total).toBe(1);
    } finally {
      await portal.close();
    }
  });
});

describe('several workers on one database', () => {
  it('re-queues the task of a worker killed mid-run; another worker finishes it', async () => {
    const dataDir = await tempDir();
    const portal = await startTestPortal({}, { dataDir });
    const api = new TestApi(portal.url);
    const cliEnv = {
      ...process.env,
      DATA_DIR: dataDir,
      SPEOS_COMMAND_V252: COMMAND,
      WORKER_LEASE_SECONDS: '3', // 1 s leases are lost to a busy machine's pauses, not only to the kill
      WORKER_POLL_SECONDS: '0.2',
      WORKER_ID: 'doomed',
    };
    const id = await submit(api, plan({ passes: 40, delay_ms: 100, outputs: { 'r.html': 'ok' } }));
    const serverDist = fileURLToPath(new URL('../../dist/index.js', import.meta.url));
    const doomed = spawn(process.execPath, ['-e', `import(${JSON.stringify(serverDist)}).then((m) => m.runWorker())`], {
      env: cliEnv,
      stdio: 'ignore',
    });
    const log = await waitFor(
      () => api.get(`/tasks/${id}/logs`).then((r) => r.body.content as string),
      (text) => text.includes('Pass 2/40'),
      'the first worker to run the solver',
    );
    doomed.kill('SIGKILL');
    // The orphaned solver: its watchdog ends it on its own (solver-lifetime.test.ts); make sure here too.
    for (const pid of /PIDS (.*)/.exec(log)![1]!.split(' ').map(Number)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already ended by the watchdog
      }
    }
    const db = await openDatabase(undefined, dataDir);
    const config = loadConfig({ DATA_DIR: dataDir });
    const store = await openObjectStore(config);
    const rescuer = new Worker({
      db,
      store,
      clock: Date.now,
      config: loadWorkerConfig(
        { SPEOS_COMMAND_V252: COMMAND, WORKER_LEASE_SECONDS: '3', WORKER_POLL_SECONDS: '0.2', WORKER_ID: 'rescuer' },
        dataDir,
      ),
    });
    rescuer.start();
    try {
      const done = await waitFor(
        () => api.get(`/tasks/${id}/detail`).then((r) => r.body),
        (t) => t.status === 'SUCCESS',
        'rescue',
        30_000,
      );
      const history = done.status_history.map(
        (h: { status: string; message: string | null }) => `${h.status}:${h.message}`,
      );
      expect(history).toEqual([
        'UPLOADING:null',
        'PENDING:submitted',
        'RUNNING:claimed by doomed',
        'PENDING:worker doomed lost; re-queued',
        'RUNNING:claimed by rescuer',
        'SUCCESS:null',
      ]);
    } finally {
      await rescuer.stop();
      await db.destroy();
      await portal.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('never runs one task twice: 24 tasks, 3 workers with 2 slots each', async () => {
    const dataDir = await tempDir();
    const ledger = path.join(dataDir, 'ledger.txt');
    await writeFile(ledger, '');
    process.env.FAKE_SPEOS_LEDGER = ledger; // the solver processes inherit it
    const portal = await startTestPortal({}, { dataDir });
    const api = new TestApi(portal.url);
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) ids.push(await submit(api, plan({ id: `task-${i}`, passes: 1, delay_ms: 30 })));
    const db = await openDatabase(undefined, dataDir);
    const store = await openObjectStore(loadConfig({ DATA_DIR: dataDir }));
    const workers = ['w1', 'w2', 'w3'].map(
      (name) =>
        new Worker({
          db,
          store,
          clock: Date.now,
          config: loadWorkerConfig(
            { SPEOS_COMMAND_V252: COMMAND, WORKER_SLOTS: '2', WORKER_POLL_SECONDS: '0.05', WORKER_ID: name },
            dataDir,
          ),
        }),
    );
    for (const w of workers) w.start();
    try {
      await waitFor(
        () => api.get('/tasks?status=SUCCESS&page_size=100').then((r) => r.body.total as number),
        (n) => n === 24,
        'all tasks to succeed',
        60_000,
      );
      const runs = (await readFile(ledger, 'utf8')).trim().split('\n');
      expect(runs).toHaveLength(24);
      expect(new Set(runs).size).toBe(24);
      const claimers = new Set<string>();
      for (const id of ids) {
        const history = (await api.get(`/tasks/${id}/detail`)).body.status_history;
        const claims = history.filter((h: { status: string }) => h.status === 'RUNNING');
        expect(claims).toHaveLength(1);
        claimers.add(claims[0].message);
      }
      expect(claimers.size).toBeGreaterThan(1);
    } finally {
      delete process.env.FAKE_SPEOS_LEDGER;
      await Promise.all(workers.map((w) => w.stop()));
      await db.destroy();
      await portal.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('a stop that arrives before the solver starts', () => {
  it('cancels the task without ever starting the solver', async () => {
    const dataDir = await tempDir();
    const ledger = path.join(dataDir, 'ledger.txt');
    await writeFile(ledger, '');
    process.env.FAKE_SPEOS_LEDGER = ledger;
    const portal = await startTestPortal({}, { dataDir });
    const api = new TestApi(portal.url);
    const db = await openDatabase(undefined, dataDir);
    const store = await openObjectStore(loadConfig({ DATA_DIR: dataDir }));
    const worker = new Worker({
      db,
      store,
      clock: Date.now,
      config: loadWorkerConfig({ SPEOS_COMMAND_V252: COMMAND, WORKER_POLL_SECONDS: '0.05' }, dataDir),
    });
    try {
      const id = await submit(api, plan({ hang: true }));
      // As if stop had been asked while the worker was still downloading the inputs.
      await db.updateTable('tasks').set({ cancel_requested: 1 }).where('task_id', '=', id).execute();
      worker.start();
      const done = await waitFor(
        () => api.get(`/tasks/${id}`).then((r) => r.body),
        (t) => t.status === 'CANCELLED',
        'cancel',
      );
      expect(done.message).toBe('stopped by request');
      expect(await readFile(ledger, 'utf8')).toBe('');
      const log = (await api.get(`/tasks/${id}/logs`)).body.content as string;
      expect(log).toContain('preparing inputs');
      expect(log).not.toContain('running:');
    } finally {
      delete process.env.FAKE_SPEOS_LEDGER;
      await worker.stop();
      await db.destroy();
      await portal.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe('what users see of a failed run', () => {
  it("shows the solver's output and exit code; paths and the command line stay in internal_detail", async () => {
    const dataDir = await tempDir();
    const missing = path.join(dataDir, 'no-such-solver', 'SPEOSHPC.x');
    const portal = await startTestPortal(
      { SPEOS_COMMAND_V252: COMMAND, SPEOS_COMMAND_V251: `${missing} {master}` },
      { dataDir },
    );
    const db = await openDatabase(undefined, dataDir);
    try {
      const api = new TestApi(portal.url);
      const ours = (text: string) => text.split('\n').filter((l) => l.startsWith('[speos-portal]'));
      const failed = await submit(api, plan({ exit: 3, stderr: 'Licence server not reachable' }));
      const done = await waitFor(
        () => api.get(`/tasks/${failed}`).then((r) => r.body),
        (t) => t.status === 'FAILURE',
        'FAILURE',
      );
      expect(done.message).toBe('SPEOS stopped with exit code 3');
      expect(done.error_detail).toContain('Licence server not reachable');
      const log = (await api.get(`/tasks/${failed}/logs`)).body.content as string;
      expect(ours(log).length).toBeGreaterThan(0);
      for (const line of [...ours(log), ...ours(done.error_detail)]) {
        expect(line).not.toContain(dataDir);
        expect(line).not.toContain(FAKE);
      }
      const internal = await db
        .selectFrom('tasks')
        .select('internal_detail')
        .where('task_id', '=', failed)
        .executeTakeFirstOrThrow();
      expect(internal.internal_detail).toContain(FAKE);
      expect(internal.internal_detail).toContain(path.join(dataDir, 'work', failed));
      expect(JSON.stringify(done)).not.toContain('internal_detail');

      const unstartable = await submit(api, plan({}), { version: 'v251' });
      const refused = await waitFor(
        () => api.get(`/tasks/${unstartable}`).then((r) => r.body),
        (t) => t.status === 'FAILURE',
        'FAILURE',
      );
      expect(refused.message).toBe(
        'the solver for SPEOS v251 could not be started on this worker (its log has the reason)',
      );
      expect(JSON.stringify(refused)).not.toContain(missing);
      const why = await db
        .selectFrom('tasks')
        .select('internal_detail')
        .where('task_id', '=', unstartable)
        .executeTakeFirstOrThrow();
      expect(why.internal_detail).toContain(`could not start ${missing}: spawn ${missing} ENOENT`);
    } finally {
      await db.destroy();
      await portal.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
