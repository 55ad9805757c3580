/**
 * `speos-portal worker`: claims PENDING tasks and runs up to WORKER_SLOTS at once. Also
 * re-queues tasks whose worker died (lease expired). Any number of workers may share a
 * database; each task runs on one of them at a time.
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../clock.js';
import { isDatabaseUnavailable } from '../db/availability.js';
import { type Db, databaseHealth } from '../db/connect.js';
import type { TaskRow } from '../db/schema.js';
import { type Logger, silentLogger } from '../logger.js';
import type { ObjectStore } from '../storage/object-store.js';
import { transitionTask } from '../tasks/repository.js';
import { announceWorker, removeWorker, type WorkerAnnouncement, workerHeartbeat } from '../workers/registry.js';
import type { WorkerConfig } from './config.js';
import type { Executor } from './executors/executor.js';
import { LocalExecutor } from './executors/local.js';
import { SlurmExecutor } from './executors/slurm/executor.js';
import { killLeftoverSolvers } from './leftovers.js';
import { syncLicensePools } from './licenses.js';
import {
  abandonedSlurmJobs,
  adoptSlurmTasks,
  claimNextTask,
  forgetSlurmJob,
  releaseLease,
  requeueLostTasks,
} from './queue.js';
import { TaskRun } from './runner.js';

/** The executor the configuration names (EXECUTOR): local child processes, or Slurm jobs. */
export function makeExecutor(config: WorkerConfig): Executor {
  const { executor } = config;
  if (executor.kind === 'slurm') {
    return new SlurmExecutor({
      sbatchArgs: executor.sbatchArgs,
      pollSeconds: executor.pollSeconds,
      licenses: [...config.licenses.keys()],
      ...(executor.conf ? { conf: executor.conf } : {}),
    });
  }
  return new LocalExecutor({
    workDir: config.workDir,
    workerId: config.workerId,
    stopGraceSeconds: config.stopGraceSeconds,
  });
}

export interface WorkerDeps {
  db: Db;
  store: ObjectStore;
  config: WorkerConfig;
  clock: Clock;
  /** Lines of this worker and its runs; default: none. */
  log?: Logger;
}

export class Worker {
  readonly #deps: Required<WorkerDeps>;
  readonly #runs = new Map<string, { run: TaskRun; done: Promise<void> }>();
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: AbortController = new AbortController();
  readonly #executor: Executor;
  /** Licences this worker counts itself (local executor); Slurm counts its own (-L). */
  readonly #localLicenses: string[];

  constructor(deps: WorkerDeps) {
    this.#deps = { log: silentLogger, ...deps };
    this.#executor = makeExecutor(deps.config);
    this.#localLicenses = this.#executor.kind === 'local' ? [...deps.config.licenses.keys()] : [];
  }

  /** Task ids running on this worker now. */
  get active(): string[] {
    return [...this.#runs.keys()];
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Claims again at once instead of waiting for the next poll (e.g. after a confirm). */
  poke(): void {
    this.#wake.abort();
  }

  async #run(): Promise<void> {
    const { db, config, clock, log } = this.#deps;
    const versions = [...config.commands.keys()];
    // Solvers a dead worker on this host left running (its watchdog gone too) stop
    // before this worker re-queues or claims anything: one task, one solver at a time.
    try {
      const killed = await killLeftoverSolvers(config.workDir, config.stopGraceSeconds * 1000, log);
      if (killed.length > 0) log.warn({ task_ids: killed }, 'stopped solvers left by a dead worker');
    } catch (error) {
      log.warn({ err: error }, 'could not look for leftover solvers');
    }
    const leaseMs = config.leaseSeconds * 1000;
    const health = databaseHealth(db);
    // Until the pools are recorded no licence counts as free: claims wait for them.
    let poolsRecorded = this.#localLicenses.length === 0;
    // The loop also watches the database for the lost-lease rule below: it must look at
    // least every third of a lease, so an outage long enough to lapse a lease is noticed.
    const pauseMs = Math.min(config.pollSeconds * 1000, leaseMs / 3);
    let loopFailing = false;
    let announced = false;
    let lastBeat = 0;
    while (this.#running) {
      try {
        // Tells GET /workers (and pending tasks' queue_reason) that this worker lives: every
        // third of a lease is enough (a row counts as online for a whole lease), and spares the
        // database a write per poll.
        const beatAt = clock();
        if (!announced) {
          await announceWorker(db, this.#announcement, beatAt);
          announced = true;
          lastBeat = beatAt;
        } else if (beatAt - lastBeat >= leaseMs / 3) {
          await workerHeartbeat(db, this.#announcement, beatAt);
          lastBeat = beatAt;
        }
        // A lapsed lease means "that worker died" only if the database was reachable long
        // enough for it to renew: after an outage, each worker's heartbeat renews within a
        // second, so tasks are re-queued only once this process has reached the database
        // without a failure for a whole lease. Tasks running here are never re-queued.
        if (health.reachableFor() >= leaseMs) {
          const requeued = await requeueLostTasks(db, config.maxAttempts, clock(), this.active);
          if (requeued > 0) log.info({ count: requeued }, 're-queued tasks of lost workers');
        } else {
          await probe(db);
        }
        if (this.#executor.kind === 'slurm') {
          // Slurm jobs of tasks whose worker restarted or died: follow them again, never resubmit.
          const adopted = await adoptSlurmTasks(db, config.workerId, leaseMs, clock(), {
            lapsed: health.reachableFor() >= leaseMs,
            active: this.active,
          });
          for (const task of adopted) {
            log.info({ task_id: task.task_id, slurm_job_id: task.slurm_job_id }, 'following the Slurm job of a task');
            this.#launch(task, task.slurm_job_id ?? undefined);
          }
          await this.#cancelAbandonedJobs();
        }
        if (!poolsRecorded) {
          await syncLicensePools(db, config.licenses);
          poolsRecorded = true;
        }
        while (this.#running && this.#runs.size < config.slots) {
          const task = await claimNextTask(
            db,
            config.workerId,
            versions,
            config.leaseSeconds * 1000,
            clock(),
            this.#localLicenses,
          );
          if (!task) break;
          log.info({ task_id: task.task_id, version: task.version }, 'running task');
          this.#launch(task);
        }
        loopFailing = false;
      } catch (error) {
        // An unreachable database is said once per outage (and by its health record), not every poll.
        if (!loopFailing || !isDatabaseUnavailable(error)) log.error({ err: error }, 'worker loop error');
        loopFailing = isDatabaseUnavailable(error);
      }
      this.#wake = new AbortController();
      // Aborted by poke(): the wake-up itself, not an error.
      await sleep(pauseMs, undefined, { signal: this.#wake.signal }).catch(() => {});
    }
  }

  /** Jobs of tasks that were stopped while no worker followed them leave Slurm's queue now. */
  async #cancelAbandonedJobs(): Promise<void> {
    const { db, log } = this.#deps;
    if (!(this.#executor instanceof SlurmExecutor)) return;
    for (const job of await abandonedSlurmJobs(db)) {
      if (!(await this.#executor.cancel(job.slurm_job_id))) continue; // Slurm unreachable: next time
      await forgetSlurmJob(db, job.task_id);
      log.info(job, 'cancelled the Slurm job of a task stopped without its worker');
    }
  }

  #launch(task: TaskRow, attachJobId?: string): void {
    const { db, config, clock, log, store } = this.#deps;
    const run = new TaskRun(
      { db, store, config, clock, log, executor: this.#executor },
      task,
      attachJobId ? { attachJobId } : {},
    );
    const done = run.run().finally(() => {
      this.#runs.delete(task.task_id);
      this.poke();
    });
    this.#runs.set(task.task_id, { run, done });
  }

  get #announcement(): WorkerAnnouncement {
    const { config } = this.#deps;
    return {
      workerId: config.workerId,
      host: hostname(),
      versions: [...config.commands.keys()],
      slots: config.slots,
      leaseMs: config.leaseSeconds * 1000,
    };
  }

  /**
   * Stops claiming; running solvers are stopped and their tasks go back to PENDING for
   * another worker (they would otherwise wait for the lease to lapse).
   */
  async stop(): Promise<void> {
    this.#running = false;
    this.poke();
    await this.#loop;
    const runs = [...this.#runs.values()];
    for (const { run } of runs) run.shutdown();
    await Promise.all(runs.map((r) => r.done));
    const { db, clock, config } = this.#deps;
    for (const { run } of runs) {
      if (run.detached) {
        // Its Slurm job goes on: the next worker to start follows it (adoptSlurmTasks).
        await releaseLease(db, run.taskId, config.workerId);
        continue;
      }
      await transitionTask(
        db,
        run.taskId,
        ['RUNNING'],
        'PENDING',
        clock(),
        `worker ${config.workerId} shut down; re-queued`,
        {
          lease_owner: null,
          lease_expires_at: null,
          started_at: null,
        },
      );
    }
    await removeWorker(db, config.workerId).catch((error) =>
      this.#deps.log.warn({ err: error }, 'could not remove this worker from the list of workers'),
    );
  }
}

/** A query whose only purpose is to tell the database's health record whether it answers. */
async function probe(db: Db): Promise<void> {
  await db.selectFrom('tasks').select('task_id').limit(1).execute();
}
