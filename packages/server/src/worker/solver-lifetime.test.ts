/**
 * A solver never outlives its worker, and a task never has two solvers at once — proven
 * with `kill -9` of `speos-portal serve` (the built CLI, with an in-process worker) while
 * a solver runs. The solver is a TEST DOUBLE (test-support/fake-speos.mjs): it records each
 * start in FAKE_SPEOS_RUNS and notes an overlap if an earlier run of its task still runs.
 * It runs silently ({hang: true}) so that nothing but the watchdog or the start-up sweep
 * can end it (a solver that prints to a dead worker's pipe would die of EPIPE by itself).
 */
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { TestApi } from '@speos-portal/test-support/api.js';
import { FAKE_SPEOS as FAKE } from '@speos-portal/test-support/paths.js';
import { freePort, type PortalProcess, spawnPortal, tempDir } from '@speos-portal/test-support/portal.js';
import { waitFor } from '@speos-portal/test-support/wait.js';
import { afterEach, describe, expect, it } from 'vitest';

const COMMAND = `${process.execPath} ${FAKE} {master} -t {thread_count}`;

/** Running, not a zombie waiting to be reaped. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const portals: PortalProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const p of portals.splice(0))
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function setUp() {
  const dataDir = await tempDir();
  dirs.push(dataDir);
  const runs = path.join(dataDir, 'runs.jsonl');
  const port = await freePort();
  const env = {
    SPEOS_COMMAND_V252: COMMAND,
    WORKER_LEASE_SECONDS: '3', // short, so the restarted worker re-queues soon; not so short that load loses it
    WORKER_POLL_SECONDS: '0.2',
    WORKER_STOP_GRACE_SECONDS: '2',
    FAKE_SPEOS_RUNS: runs,
    LOG_LEVEL: 'info',
  };
  const start = async () => {
    const portal = await spawnPortal(dataDir, env, port);
    portals.push(portal);
    return portal;
  };
  const readRuns = async () =>
    existsSync(runs)
      ? (await readFile(runs, 'utf8'))
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { key?: string; pid: number; overlap?: string })
      : [];
  return { dataDir, start, readRuns };
}

/** Submits a silent, endless run; returns the task id and the solver's processes once it runs. */
async function submitHanging(api: TestApi) {
  const master = Buffer.from(JSON.stringify({ id: 'lifetime', hang: true, child: true, passes: 1 }));
  const { init } = await api.uploadFile(master, { filename: 'model.speos' });
  const confirmed = await api.post('/tasks/upload/confirm', {
    task_id: init.task_id,
    master_object_key: init.object_key,
    job_name: 'kill -9',
  });
  expect(confirmed.status).toBe(200);
  const log = await waitFor(
    () => api.get(`/tasks/${init.task_id}/logs`).then((r) => r.body.content as string),
    (text) => text.includes('simulating forever'),
    'the solver to run',
  );
  const pids = /PIDS (.*)/.exec(log)![1]!.split(' ').map(Number);
  return { taskId: init.task_id as string, pids };
}

describe('the solver of a worker killed with SIGKILL', () => {
  it('ends with the worker; after a restart the task runs again, never twice at once', async () => {
    const { start, readRuns } = await setUp();
    let portal = await start();
    const api = new TestApi(portal.url);
    const { taskId, pids } = await submitHanging(api);
    expect(pids.every(running)).toBe(true);

    portal.child.kill('SIGKILL');
    expect(await portal.exited).toBe('SIGKILL');
    // Nobody but the watchdog acts: the solver and its child end on their own.
    await waitFor(
      () => pids.filter(running),
      (left) => left.length === 0,
      'the orphaned solver to end',
      15_000,
    );

    portal = await start();
    await waitFor(readRuns, (r) => r.filter((x) => x.key === 'lifetime').length === 2, 'the second run', 30_000);
    const detail = (await api.get(`/tasks/${taskId}/detail`)).body;
    expect(detail.status).toBe('RUNNING');
    expect(detail.status_history.map((h: { status: string }) => h.status)).toEqual([
      'UPLOADING',
      'PENDING',
      'RUNNING',
      'PENDING',
      'RUNNING',
    ]);
    expect((await readRuns()).filter((r) => r.overlap)).toEqual([]);
    expect((await api.post(`/tasks/${taskId}/stop`, {})).status).toBe(200);
  });

  it('is killed by the next worker on the host when its watchdog was killed too', async () => {
    const { dataDir, start, readRuns } = await setUp();
    let portal = await start();
    const api = new TestApi(portal.url);
    const { taskId, pids } = await submitHanging(api);
    const records = path.join(dataDir, 'work', '.solvers');
    const [record] = await waitFor(
      () => readdir(records).catch(() => [] as string[]),
      (names) => names.length === 1,
      'the solver record',
    );
    const { pgid } = JSON.parse(await readFile(path.join(records, record!), 'utf8')) as { pgid: number };
    expect(pids).not.toContain(pgid);
    // Freeze the worker so it cannot react, kill its watchdog, then the worker: the solver is orphaned.
    portal.child.kill('SIGSTOP');
    process.kill(pgid, 'SIGKILL');
    portal.child.kill('SIGKILL');
    await portal.exited;
    await new Promise((r) => setTimeout(r, 500));
    expect(pids.filter(running)).toEqual(pids); // left running: what the start-up sweep is for

    portal = await start();
    await waitFor(
      () => pids.filter(running),
      (left) => left.length === 0,
      'the leftover solver to be killed',
      15_000,
    );
    expect(portal.output()).toContain('killing a solver left running by a dead worker');
    await waitFor(readRuns, (r) => r.filter((x) => x.key === 'lifetime').length === 2, 'the second run', 30_000);
    expect((await readRuns()).filter((r) => r.overlap)).toEqual([]);
    expect((await api.post(`/tasks/${taskId}/stop`, {})).status).toBe(200);
  });
});
