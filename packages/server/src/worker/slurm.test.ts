/**
 * The Slurm executor against a real one-node Slurm cluster (scripts/services/slurm.sh,
 * started by scripts/services/up.sh and .ci/run; SLURM_TEST_CONF names its slurm.conf).
 * The solver is the TEST DOUBLE test-support/fake-speos.mjs (SPEOS cannot be installed
 * here): it runs as the Slurm batch job, prints progress and writes result files.
 *
 * Only this file uses the cluster, and its tests run one after another: each test may
 * assume the jobs in the queue are its own. The cluster's licence pool is speos:1
 * (SLURM_TEST_LICENSES), so two portal jobs can never run at once.
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestApi } from '@speos-portal/test-support/api.js';
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import { startTestPortal, type TestPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { waitFor } from '@speos-portal/test-support/wait.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readQueue, runSlurm } from './executors/slurm/commands.js';

const CONF = process.env.SLURM_TEST_CONF;
const SLURM_DIR = process.env.SLURM_TEST_DIR;
if (!CONF) {
  console.warn(
    'slurm.test.ts skipped: no Slurm test cluster. Install it (apt-get install slurmctld slurmd slurm-client munge) and run scripts/services/up.sh, then source .tmp/services.env (SLURM_TEST_CONF).',
  );
}

const COMMAND = `${process.execPath} ${FAKE} {master} -t {thread_count}`;
const SLURM_SH = fileURLToPath(new URL('../../../../scripts/services/slurm.sh', import.meta.url));
const SERVER_DIST = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

const plan = (p: Record<string, unknown>) => Buffer.from(JSON.stringify(p));

async function submit(api: TestApi, master: Buffer, options: Record<string, unknown> = {}): Promise<string> {
  const { init } = await api.uploadFile(master, { filename: 'model.speos' });
  const res = await api.post('/tasks/upload/confirm', {
    task_id: init.task_id,
    master_object_key: init.object_key,
    job_name: 'slurm test',
    thread_count: 1,
    ...options,
  });
  expect(res.status).toBe(200);
  return init.task_id as string;
}

/** A job's state in Slurm's own queue. */
async function slurmState(jobId: string): Promise<string | undefined> {
  const queue = await readQueue({ conf: CONF! });
  return queue.ok ? queue.jobs.get(jobId)?.state : undefined;
}

function slurmEnv(workdirRoot: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SPEOS_COMMAND_V252: COMMAND,
    EXECUTOR: 'slurm',
    SLURM_WORKDIR_ROOT: workdirRoot,
    SLURM_CONF: CONF!,
    SLURM_POLL_SECONDS: '0.5',
    LICENSES: 'speos:1',
    WORKER_SLOTS: '4',
    ...extra,
  };
}

describe.skipIf(!CONF)('Slurm executor on a real cluster', { timeout: 120_000 }, () => {
  let portal: TestPortal;
  let api: TestApi;
  let workdirRoot: string;
  let runsFile: string;
  const task = (id: string) => api.get(`/tasks/${id}/detail`).then((r) => r.body);
  const until = (id: string, status: string, ms?: number) =>
    waitFor(
      () => task(id),
      (t) => t.status === status,
      `task ${status}`,
      ms,
    );
  const row = (id: string) =>
    portal.db.selectFrom('tasks').selectAll().where('task_id', '=', id).executeTakeFirstOrThrow();

  beforeAll(async () => {
    workdirRoot = await tempDir('speos-slurm-');
    runsFile = path.join(workdirRoot, 'runs.jsonl');
    // The batch job inherits the worker's environment (sbatch's default --export=ALL).
    process.env.FAKE_SPEOS_RUNS = runsFile;
    portal = await startTestPortal(slurmEnv(workdirRoot, { WORKER_STOP_GRACE_SECONDS: '2' }));
    api = new TestApi(portal.url);
  });
  afterAll(async () => {
    await portal?.close();
    delete process.env.FAKE_SPEOS_RUNS;
  });

  it('runs a task as a Slurm job to SUCCESS with its log, progress and outputs', async () => {
    const outputs = { 'report.html': '<html>光强</html>', 'sub dir/result.xmp': 'XMP'.repeat(1000) };
    const id = await submit(api, plan({ passes: 3, delay_ms: 200, outputs }), { walltime_hours: 1, node_count: 1 });
    const done = await until(id, 'SUCCESS');
    expect(done.progress_info).toMatchObject({ progress_percent: 100, current_pass: 3, total_passes: 3 });
    const log = (await api.get(`/tasks/${id}/logs?offset=0`)).body.content as string;
    expect(log).toMatch(/submitted to Slurm as job \d+/);
    expect(log).toContain('Pass 3/3 - 100% done');
    const listed = (await api.get(`/tasks/${id}/outputs`)).body;
    // The job's own files (script, output, offsets) are not results.
    expect(listed.files.map((f: { name: string }) => f.name)).toEqual(['report.html', 'sub dir/result.xmp']);
    for (const file of listed.files) {
      const res = await fetch(`${portal.url}${file.url}`);
      expect(await res.text()).toBe(outputs[file.name as keyof typeof outputs]);
    }
    const stored = await row(id);
    expect(stored.slurm_job_id).toMatch(/^\d+$/);
    expect(stored.internal_detail).toContain('--cpus-per-task=1');
    expect(stored.internal_detail).toContain('--time=60');
    expect(stored.internal_detail).toContain('--nodes=1');
    expect(stored.internal_detail).toContain('--licenses=speos:1');
    expect(await slurmState(stored.slurm_job_id!)).toBe('COMPLETED');
  });

  it('maps a non-zero exit code to FAILURE with the solver output', async () => {
    const id = await submit(api, plan({ passes: 1, exit: 3, stderr: 'ERROR: licence checkout failed' }));
    const done = await until(id, 'FAILURE');
    expect(done.message).toBe('SPEOS stopped with exit code 3');
    expect(done.error_detail).toContain('ERROR: licence checkout failed');
    expect(await slurmState((await row(id)).slurm_job_id!)).toBe('FAILED');
  });

  it('refuses a job Slurm cannot run with a clear message', async () => {
    // Two nodes on a one-node cluster (EnforcePartLimits=ALL makes sbatch refuse, not queue forever).
    const id = await submit(api, plan({ passes: 1 }), { node_count: 2 });
    const done = await until(id, 'FAILURE');
    expect(done.message).toMatch(/^Slurm did not accept the job: \S/);
    expect((await row(id)).slurm_job_id).toBeNull();
  });

  it('stops a job while it waits for the licence and while it runs', async () => {
    const running = await submit(api, plan({ hang: true, id: 'stop-running' }));
    await waitFor(
      () => row(running),
      (r) => r.slurm_state === 'RUNNING',
      'the first job to run',
    );
    const waiting = await submit(api, plan({ hang: true, id: 'stop-waiting' }));
    const pending = await waitFor(
      () => row(waiting),
      (r) => r.slurm_reason === 'Licenses',
      'the second job to wait for the licence',
    );
    expect(pending.slurm_state).toBe('PENDING');
    // For its user the task waits: PENDING, first in line, and why.
    const shown = await task(waiting);
    expect(shown).toMatchObject({
      status: 'PENDING',
      queue_position: 1,
      queue_reason: 'waiting for a licence',
      slurm_job_id: pending.slurm_job_id,
      started_at: null,
    });
    expect(await task(running)).toMatchObject({ status: 'RUNNING', queue_position: null, queue_reason: null });
    const listed = async (status: string) =>
      (await api.get(`/tasks?status=${status}`)).body.items.map((t: { task_id: string }) => t.task_id);
    expect(await listed('PENDING')).toEqual([waiting]);
    expect(await listed('RUNNING')).toEqual([running]);
    // Stop the waiting one: it leaves Slurm's queue without ever running.
    const stopWaiting = await api.post(`/tasks/${waiting}/stop`, {});
    expect(stopWaiting.status).toBe(200);
    expect(stopWaiting.body.status).toBe('CANCELLED');
    expect(await slurmState(pending.slurm_job_id!)).toBe('CANCELLED');
    // Stop the running one: scancel --full ends the solver (it exits on SIGTERM).
    const jobId = (await row(running)).slurm_job_id!;
    const stopRunning = await api.post(`/tasks/${running}/stop`, {});
    expect(stopRunning.status).toBe(200);
    expect(stopRunning.body.status).toBe('CANCELLED');
    expect((await task(running)).message).toBe('stopped by request');
    await waitFor(
      () => slurmState(jobId),
      (s) => s === 'CANCELLED',
      'Slurm to record the cancel',
    );
    const runs = (await readFile(runsFile, 'utf8')).split('\n').filter(Boolean);
    expect(runs.filter((l) => l.includes('stop-waiting'))).toEqual([]);
    expect(runs.filter((l) => l.includes('stop-running'))).toHaveLength(1);
    const log = (await api.get(`/tasks/${running}/logs?offset=0`)).body.content as string;
    expect(log).toContain('got SIGTERM, exiting');
  });

  it('runs two jobs of a one-licence pool one after the other', async () => {
    // The same plan id: the double notes an overlap if a run starts while the other runs.
    // The second is submitted once the first runs: Slurm may otherwise start either one first.
    const first = await submit(api, plan({ id: 'pool', passes: 20, delay_ms: 200 }));
    await until(first, 'RUNNING');
    const second = await submit(api, plan({ id: 'pool', passes: 2, delay_ms: 100 }));
    const reason = await waitFor(
      () => row(second),
      (r) => r.slurm_reason === 'Licenses' || ['SUCCESS', 'FAILURE'].includes(r.status),
      'the second job to wait for the licence',
    );
    expect(reason.slurm_reason).toBe('Licenses');
    await until(first, 'SUCCESS');
    await until(second, 'SUCCESS');
    const runs = (await readFile(runsFile, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { key?: string; overlap?: string });
    expect(runs.filter((r) => r.key === 'pool')).toHaveLength(2);
    // The double's own record is the proof: it notes an overlap if the second run starts while
    // the first runs. The tasks' started_at/finished_at cannot show it: finished_at is set only
    // once the first run's outputs are stored, seconds after Slurm released the licence.
    expect(runs.filter((r) => r.overlap === 'pool')).toEqual([]);
  });

  it('keeps following a job while slurmctld restarts', async () => {
    const id = await submit(api, plan({ id: 'ctld', passes: 20, delay_ms: 300, outputs: { 'r.txt': 'ok' } }));
    await waitFor(
      () => row(id),
      (r) => r.slurm_state === 'RUNNING',
      'the job to run',
    );
    await run('bash', [SLURM_SH, 'stop', SLURM_DIR!, 'slurmctld']);
    // The worker cannot read the queue now: the task stays RUNNING, the job goes on.
    await new Promise((r) => setTimeout(r, 2000));
    expect((await task(id)).status).toBe('RUNNING');
    await run('bash', [SLURM_SH, 'start', SLURM_DIR!, 'slurmctld']);
    const done = await until(id, 'SUCCESS');
    expect(done.progress_info).toMatchObject({ current_pass: 20 });
    const runs = (await readFile(runsFile, 'utf8')).split('\n').filter((l) => l.includes('"ctld"'));
    expect(runs).toHaveLength(1);
  });

  it('ends a job at its walltime as a clear TIMEOUT failure', async () => {
    // One minute, the shortest --time; Slurm checks limits about every 30 s.
    const id = await submit(api, plan({ hang: true }), { walltime_hours: 0.01 });
    const done = await until(id, 'FAILURE', 180_000);
    expect(done.message).toMatch(/^Slurm job \d+ reached its time limit of 1 min and Slurm stopped it/);
    expect(await slurmState((await row(id)).slurm_job_id!)).toBe('TIMEOUT');
  }, 200_000);
});

describe.skipIf(!CONF)('Slurm executor across worker restarts', () => {
  it('a worker that shuts down leaves its job running; started again, it follows the job to SUCCESS', async () => {
    const dataDir = await tempDir();
    const workdirRoot = await tempDir('speos-slurm-');
    const runsFile = path.join(workdirRoot, 'runs.jsonl');
    process.env.FAKE_SPEOS_RUNS = runsFile;
    const env = slurmEnv(workdirRoot, { WORKER_ID: 'steady' });
    let portal = await startTestPortal(env, { dataDir });
    const port = Number(new URL(portal.url).port);
    try {
      const api = new TestApi(portal.url);
      const id = await submit(api, plan({ id: 'shutdown', passes: 20, delay_ms: 300, outputs: { 'r.txt': 'ok' } }));
      await waitFor(
        () => api.get(`/tasks/${id}/logs`).then((r) => r.body.content as string),
        (text) => text.includes('Pass 2/20'),
        'the job to run',
      );
      const jobId = (await api.get(`/tasks/${id}`)).body.slurm_job_id as string;
      expect(jobId).toMatch(/^\d+$/);
      await portal.close(); // stops its worker, as SIGTERM does
      // The job goes on without a worker.
      expect(await slurmState(jobId)).toBe('RUNNING');
      portal = await startTestPortal(env, { dataDir, port });
      const done = await waitFor(
        () => api.get(`/tasks/${id}/detail`).then((r) => r.body),
        (t) => t.status === 'SUCCESS' || t.status === 'FAILURE',
        'the restarted worker to finish the task',
      );
      expect(done.status).toBe('SUCCESS');
      const log = (await api.get(`/tasks/${id}/logs?offset=0`)).body.content as string;
      expect(log.match(/Pass 20\/20/g)).toHaveLength(1);
      expect(log.match(/Pass 1\/20 /g)).toHaveLength(1);
      const runs = (await readFile(runsFile, 'utf8')).split('\n').filter(Boolean);
      expect(runs).toHaveLength(1);
    } finally {
      await portal.close();
      delete process.env.FAKE_SPEOS_RUNS;
    }
  }, 120_000);

  it('a worker killed mid-run leaves the job running; the next worker follows it to SUCCESS', async () => {
    const dataDir = await tempDir();
    const workdirRoot = await tempDir('speos-slurm-');
    const runsFile = path.join(workdirRoot, 'runs.jsonl');
    await writeFile(runsFile, '');
    const portal = await startTestPortal({}, { dataDir });
    const api = new TestApi(portal.url);
    const env = {
      ...process.env,
      ...slurmEnv(workdirRoot, { WORKER_LEASE_SECONDS: '2', WORKER_POLL_SECONDS: '0.2' }),
      DATA_DIR: dataDir,
      FAKE_SPEOS_RUNS: runsFile,
    };
    const startWorker = (workerId: string) =>
      spawn(process.execPath, ['-e', `import(${JSON.stringify(SERVER_DIST)}).then((m) => m.runWorker())`], {
        env: { ...env, WORKER_ID: workerId },
        stdio: 'ignore',
      });
    try {
      const id = await submit(api, plan({ id: 'restart', passes: 30, delay_ms: 300, outputs: { 'r.txt': 'done' } }));
      const doomed = startWorker('doomed');
      await waitFor(
        () => api.get(`/tasks/${id}/logs`).then((r) => r.body.content as string),
        (text) => text.includes('Pass 3/30'),
        'the job to run',
      );
      doomed.kill('SIGKILL');
      const jobId = (
        await portal.db.selectFrom('tasks').selectAll().where('task_id', '=', id).executeTakeFirstOrThrow()
      ).slurm_job_id!;
      expect(await slurmState(jobId)).toBe('RUNNING');
      const next = startWorker('next');
      try {
        const done = await waitFor(
          () => api.get(`/tasks/${id}/detail`).then((r) => r.body),
          (t) => t.status === 'SUCCESS' || t.status === 'FAILURE',
          'the next worker to finish the task',
        );
        expect(done.status).toBe('SUCCESS');
        expect(done.status_history.map((h: { status: string }) => h.status)).toEqual([
          'UPLOADING',
          'PENDING',
          'RUNNING',
          'SUCCESS',
        ]);
        const log = (await api.get(`/tasks/${id}/logs?offset=0`)).body.content as string;
        // The whole output once: the next worker goes on where the killed one stopped.
        expect(log.match(/Pass 30\/30/g)).toHaveLength(1);
        expect(log.match(/Pass 1\/30 /g)).toHaveLength(1);
        expect((await api.get(`/tasks/${id}/outputs`)).body.files.map((f: { name: string }) => f.name)).toEqual([
          'r.txt',
        ]);
        // One job, one run: never submitted twice.
        const runs = (await readFile(runsFile, 'utf8')).split('\n').filter(Boolean);
        expect(runs).toHaveLength(1);
      } finally {
        next.kill('SIGTERM');
      }
    } finally {
      await portal.close();
    }
  }, 120_000);
});

describe.skipIf(!CONF)('Slurm executor: a stop while no worker follows the job', () => {
  it('the stop answers without the worker; the next worker to start cancels the job in Slurm', async () => {
    const dataDir = await tempDir();
    const workdirRoot = await tempDir('speos-slurm-');
    const portal = await startTestPortal({}, { dataDir });
    const api = new TestApi(portal.url);
    const env = {
      ...process.env,
      ...slurmEnv(workdirRoot, { WORKER_LEASE_SECONDS: '2', WORKER_POLL_SECONDS: '0.2' }),
      DATA_DIR: dataDir,
    };
    const startWorker = (workerId: string) =>
      spawn(process.execPath, ['-e', `import(${JSON.stringify(SERVER_DIST)}).then((m) => m.runWorker())`], {
        env: { ...env, WORKER_ID: workerId },
        stdio: 'ignore',
      });
    const doomed = startWorker('doomed');
    let next: ReturnType<typeof startWorker> | undefined;
    try {
      const id = await submit(api, plan({ hang: true }));
      const jobId = await waitFor(
        () => api.get(`/tasks/${id}`).then((r) => r.body),
        (t) => t.status === 'RUNNING' && !!t.slurm_job_id,
        'the job to run',
      ).then((t) => t.slurm_job_id as string);
      doomed.kill('SIGKILL');
      // Nobody confirms the stop: after a while the portal records it anyway (tasks/control.ts).
      const stopped = await api.post(`/tasks/${id}/stop`, {});
      expect(stopped.body.status).toBe('CANCELLED');
      expect(await slurmState(jobId)).toBe('RUNNING');
      next = startWorker('next');
      await waitFor(
        () => slurmState(jobId),
        (state) => state === 'CANCELLED',
        'the next worker to cancel the job',
      );
      expect((await api.get(`/tasks/${id}`)).body.status).toBe('CANCELLED');
    } finally {
      if (doomed.exitCode === null) doomed.kill('SIGKILL');
      next?.kill('SIGTERM');
      await portal.close();
    }
  }, 120_000);
});

async function run(command: string, args: string[]): Promise<void> {
  const result = await runSlurm(command, args, {});
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
}
