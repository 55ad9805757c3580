/**
 * The original portal's frontend, request by request: each call below is what that
 * Next.js app sends (through its /api proxy) and each check is what it reads from the
 * answer — the one-request form for small jobs, the release choices, the task list,
 * progress, stop. Real server, real SQLite, real files, real child processes; the SPEOS
 * solver is the TEST DOUBLE test-support/fake-speos.mjs (SPEOS cannot be installed here).
 */
import { TestApi } from '@speos-portal/test-support/api.js';
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import { startTestPortal, type TestPortal } from '@speos-portal/test-support/portal.js';
import { waitFor } from '@speos-portal/test-support/wait.js';
import { strToU8, zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const COMMAND = `${process.execPath} ${FAKE} {master} --version={version}`;

let portal: TestPortal;
/** The frontend reaches the backend through its /api proxy. */
let api: TestApi;

beforeAll(async () => {
  portal = await startTestPortal({
    SPEOS_VERSIONS: 'v252,v261,custom-build',
    SPEOS_COMMAND: COMMAND,
    MAX_FILE_SIZE: String(8 * 1024 * 1024),
    WORKER_STOP_GRACE_SECONDS: '1',
  });
  api = new TestApi(`${portal.url}/api`);
});
afterAll(() => portal.close());

const plan = (p: Record<string, unknown>) => ({ data: Buffer.from(JSON.stringify(p)), filename: '车灯.speos' });
const task = (id: string) => api.get(`/tasks/${id}`).then((r) => r.body);
const until = (id: string, status: string) =>
  waitFor(
    () => task(id),
    (t) => t.status === status,
    `task ${id} to be ${status}`,
  );

/** The fields the frontend always sends, as the strings its FormData holds. */
const BASE = { job_name: '近光灯', solver_type: 'speos', use_gpu: 'false', ansys_release: '2025R2' };

describe('small jobs: one multipart/form-data POST /api/tasks', () => {
  it('submits with every field the frontend sends (strings only) and runs the job on its include archive', async () => {
    const master = plan({ require: ['materials/glass.txt'], outputs: { 'result.txt': 'ok' } });
    const include = Buffer.from(zipSync({ 'materials/glass.txt': strToU8('n=1.5') }));
    const res = await api.submitForm(
      {
        ...BASE,
        use_gpu: 'true',
        project_dir: 'D:\\projects\\lamp',
        simulation_index: '0',
        thread_count: '4',
        priority: '3',
        ray_count: '1000000',
        duration_minutes: '30',
        hpc_job_name: 'lamp-hpc',
        node_count: '2',
        walltime_hours: '1.5',
      },
      { master_file: master, include_archive: { data: include, filename: '材料.zip', type: 'application/zip' } },
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ task_id: expect.any(String), status: 'PENDING', message: 'Task submitted' });
    const id = res.body.task_id as string;
    expect(await task(id)).toMatchObject({
      job_name: '近光灯',
      solver_type: 'speos',
      version: 'v252',
      ansys_release: '2025R2',
      thread_count: 4,
      priority: 3,
      params: {
        use_gpu: true,
        project_dir: 'D:\\projects\\lamp',
        simulation_index: 0,
        ray_count: 1_000_000,
        duration_minutes: 30,
        hpc_job_name: 'lamp-hpc',
        node_count: 2,
        walltime_hours: 1.5,
        ansys_release: '2025R2',
      },
      master: { filename: '车灯.speos', size: master.data.length, upload_status: 'COMPLETED' },
      include: { filename: '材料.zip', size: include.length, upload_status: 'COMPLETED' },
    });
    const done = await until(id, 'SUCCESS');
    expect(done.download_url).toBe(`/tasks/${id}/outputs.zip`);
    const stored = await fetch(`${portal.url}/api/tasks/${id}/files/include`);
    expect(Buffer.from(await stored.arrayBuffer()).equals(include)).toBe(true);
    const history = (await api.get(`/tasks/${id}/detail`)).body.status_history.map((h: { status: string }) => h.status);
    expect(history).toEqual(['UPLOADING', 'PENDING', 'RUNNING', 'SUCCESS']);
  });

  it('takes the form with only the required fields, SPEOS options left out as the frontend leaves unchanged ones', async () => {
    const res = await api.submitForm({ job_name: 'minimal' }, { master_file: plan({}) });
    expect(res.status).toBe(200);
    expect(await task(res.body.task_id)).toMatchObject({
      version: 'v252',
      thread_count: 8,
      priority: 2,
      profile_name: 'Standard',
      params: {},
    });
  });

  it('refuses another solver_type with a 422 that names the solver this portal runs', async () => {
    for (const solver of ['fluent', 'maxwell', 'mechanical']) {
      const res = await api.submitForm({ ...BASE, solver_type: solver }, { master_file: plan({}) });
      expect(res.status, solver).toBe(422);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.detail).toBe(
        `solver_type: "${solver}" is not run by this portal; it runs speos only (solver_type "speos")`,
      );
    }
  });
});

describe('SPEOS releases', () => {
  it('offers the configured versions as releases in /api/v2/upload/config, with the size limits', async () => {
    const config = (await api.get('/v2/upload/config')).body;
    expect(config).toMatchObject({
      upload_mode: 'tos',
      solver_ansys_release_options: { speos: ['2025R2', '2026R1'] },
      solver_default_ansys_release: { speos: '2025R2' },
      max_file_size_mb: 8,
      chunk_size_mb: 5,
    });
  });

  it('runs the version of the chosen release, by form and by confirm', async () => {
    const byForm = await api.submitForm(
      { ...BASE, ansys_release: '2026R1' },
      { master_file: plan({ outputs: { 'a.txt': 'a' } }) },
    );
    expect(byForm.status).toBe(200);
    const formTask = await until(byForm.body.task_id, 'SUCCESS');
    expect(formTask).toMatchObject({ version: 'v261', ansys_release: '2026R1' });
    const log = (await api.get(`/tasks/${byForm.body.task_id}/logs`)).body.content as string;
    expect(log).toContain('--version=v261');

    const { init } = await api.uploadFile(Buffer.from(JSON.stringify({})), { filename: 'm.speos' });
    const confirmed = await api.post('/tasks/upload/confirm', {
      task_id: init.task_id,
      master_object_key: init.object_key,
      job_name: 'by confirm',
      ansys_release: '2026R1',
    });
    expect(confirmed.status).toBe(200);
    expect(await task(init.task_id)).toMatchObject({ version: 'v261', ansys_release: '2026R1' });
  });

  it('refuses a release that is not configured, or not a release, with 422', async () => {
    const missing = await api.submitForm({ ...BASE, ansys_release: '2024R1' }, { master_file: plan({}) });
    expect(missing.status).toBe(422);
    expect(missing.body.detail).toBe(
      'ansys_release: 2024R1 (SPEOS v241) is not installed here; choose one of 2025R2, 2026R1',
    );
    const nonsense = await api.submitForm({ ...BASE, ansys_release: 'latest' }, { master_file: plan({}) });
    expect(nonsense.status).toBe(422);
    expect(nonsense.body.detail).toContain('"latest" is not an Ansys release name such as 2025R2');
    const both = await api.submitForm({ ...BASE, version: 'v261' }, { master_file: plan({}) });
    expect(both.status).toBe(422);
    expect(both.body.detail).toContain('2025R2 is SPEOS v252 but version says v261');
  });
});

describe('the task list', () => {
  it('lists submitted tasks by default; unconfirmed uploads only with an explicit status filter', async () => {
    const placeholder = (await api.init({ filename: 'unfinished.speos', file_size: 10 })).body.task_id;
    const submitted = (await api.submitForm({ ...BASE, job_name: 'listed' }, { master_file: plan({}) })).body.task_id;
    const list = (await api.get('/tasks?page=1&page_size=100')).body;
    const ids = list.items.map((t: { task_id: string }) => t.task_id);
    expect(ids).toContain(submitted);
    expect(ids).not.toContain(placeholder);
    expect(list.items.every((t: { job_name: string | null }) => t.job_name !== null)).toBe(true);
    const resumable = (await api.get('/tasks?status=UPLOADING')).body;
    expect(resumable.items.map((t: { task_id: string }) => t.task_id)).toEqual([placeholder]);
  });
});

describe('a running job: progress and stop', () => {
  it('words the time left and gives it in seconds', async () => {
    const id = (
      await api.submitForm(
        { ...BASE, job_name: 'long' },
        { master_file: plan({ hang: true, estimated: '5:14:00:00' }) },
      )
    ).body.task_id;
    const running = await waitFor(
      () => task(id),
      (t) => t.progress_info?.estimated_seconds != null,
      'progress with the time left',
    );
    expect(running.progress_info).toMatchObject({ estimated_time: '5 days 14 hours', estimated_seconds: 482_400 });
    await api.post(`/tasks/${id}/stop`, {});
  });

  it('answers stop with the processes it ended, how, and the status before', async () => {
    const id = (await api.submitForm(BASE, { master_file: plan({ hang: true, child: true, estimated: '00:20:00' }) }))
      .body.task_id;
    const log = await waitFor(
      () => api.get(`/tasks/${id}/logs`).then((r) => r.body.content as string),
      (text) => text.includes('simulating forever'),
      'the solver to run',
    );
    await waitFor(
      () => task(id),
      (t) => t.progress_info?.estimated_time === '20 minutes',
      'progress',
    );
    const pids = /PIDS (.*)/.exec(log)![1]!.split(' ').map(Number);
    const stop = await api.post(`/tasks/${id}/stop`, {});
    expect(stop.status).toBe(200);
    expect(stop.body).toEqual({
      task_id: id,
      status: 'CANCELLED',
      message: 'Task stopped',
      terminated_processes: expect.any(Array),
      lock_released: true,
      previous_status: {
        status: 'RUNNING',
        started_at: expect.any(Number),
        progress_info: expect.objectContaining({ estimated_time: '20 minutes', estimated_seconds: 1200 }),
      },
    });
    // What the frontend prints: "• name (PID: pid)" for each.
    for (const pid of pids) {
      expect(stop.body.terminated_processes).toContainEqual({ pid, name: 'node', method: 'terminated' });
    }
  });

  it('says which processes needed SIGKILL', async () => {
    const id = (await api.submitForm(BASE, { master_file: plan({ hang: true, child: true, ignore_sigterm: true }) }))
      .body.task_id;
    const log = await waitFor(
      () => api.get(`/tasks/${id}/logs`).then((r) => r.body.content as string),
      (text) => text.includes('simulating forever'),
      'the solver to run',
    );
    const [solver, child] = /PIDS (.*)/.exec(log)![1]!.split(' ').map(Number);
    const stop = await api.post(`/tasks/${id}/stop`, {});
    expect(stop.status).toBe(200);
    expect(stop.body.terminated_processes).toContainEqual({ pid: solver, name: 'node', method: 'killed' });
    expect(stop.body.terminated_processes).toContainEqual({ pid: child, name: 'node', method: 'terminated' });
    expect((await task(id)).status).toBe('CANCELLED');
  });
});
