/**
 * Solvers left running by a worker that died. The watchdog (watchdog.ts) normally takes
 * them down at once; if the watchdog itself was killed too, a record remains. Each run
 * writes `WORKER_DIR/.solvers/<task_id>.json` naming its process group and the worker
 * process, and removes it when the run ends. A worker starting on this host kills the
 * group of every record whose worker process is gone, before it re-queues or claims
 * anything: one task, one solver at a time.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../logger.js';
import { runningMembers, signalGroup } from './process-group.js';

export interface SolverRecord {
  task_id: string;
  worker_id: string;
  /** The worker process and when it started (so a reused pid is not mistaken for it). */
  worker_pid: number;
  worker_started: string | null;
  /** The solver's process group (the watchdog's pid) and when its leader started. */
  pgid: number;
  pgid_started: string | null;
}

const recordsDir = (workDir: string) => path.join(workDir, '.solvers');
const recordFile = (workDir: string, taskId: string) => path.join(recordsDir(workDir), `${taskId}.json`);

/** When a process started (clock ticks since boot, /proc/<pid>/stat field 22), or null if it is gone. */
export async function processStartTime(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Is `pid` still the process that started at `started` (pids are reused)? */
async function sameProcess(pid: number, started: string | null): Promise<boolean> {
  const now = await processStartTime(pid);
  if (now === null) {
    try {
      process.kill(pid, 0); // no /proc (not Linux): liveness is all we can tell
      return started === null;
    } catch {
      return false;
    }
  }
  return started === null || now === started;
}

export async function recordSolver(workDir: string, taskId: string, workerId: string, pgid: number): Promise<void> {
  const record: SolverRecord = {
    task_id: taskId,
    worker_id: workerId,
    worker_pid: process.pid,
    worker_started: await processStartTime(process.pid),
    pgid,
    pgid_started: await processStartTime(pgid),
  };
  await mkdir(recordsDir(workDir), { recursive: true });
  await writeFile(recordFile(workDir, taskId), JSON.stringify(record));
}

export async function forgetSolver(workDir: string, taskId: string): Promise<void> {
  await rm(recordFile(workDir, taskId), { force: true });
}

/**
 * Kills the solvers of dead workers recorded in `workDir` (SIGTERM, then SIGKILL after
 * `graceMs`) and waits until they are gone. Records of live workers (another worker
 * process sharing the directory) are left alone. Returns the task ids whose solver was killed.
 */
export async function killLeftoverSolvers(workDir: string, graceMs: number, log: Logger): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(recordsDir(workDir))).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const killed: string[] = [];
  for (const name of names) {
    const file = path.join(recordsDir(workDir), name);
    let record: SolverRecord;
    try {
      record = JSON.parse(await readFile(file, 'utf8')) as SolverRecord;
    } catch {
      await rm(file, { force: true });
      continue;
    }
    // A live worker (this one, or another process sharing WORKER_DIR) owns its solvers.
    if (record.worker_pid === process.pid || (await sameProcess(record.worker_pid, record.worker_started))) continue;
    const leaderStarted = await processStartTime(record.pgid);
    const reused = leaderStarted !== null && record.pgid_started !== null && leaderStarted !== record.pgid_started;
    const alive = async () => (await runningMembers(record.pgid)).length > 0;
    if (!reused && (await alive())) {
      log.warn(
        { task_id: record.task_id, worker_id: record.worker_id, pgid: record.pgid },
        'killing a solver left running by a dead worker',
      );
      signalGroup(record.pgid, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while ((await alive()) && Date.now() < deadline) await sleep(50);
      if (await alive()) signalGroup(record.pgid, 'SIGKILL');
      // SIGKILL cannot be refused; allow the kernel a moment to tear the processes down.
      for (let i = 0; i < 100 && (await alive()); i++) await sleep(20);
      killed.push(record.task_id);
    }
    await rm(file, { force: true });
  }
  return killed;
}
