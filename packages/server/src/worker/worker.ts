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
import type { ObjectStore } from '../storage/object-store.js';
import { transitionTask } from '../tasks/repository.js';
import { announceWorker, removeWorker, type WorkerAnnouncement, workerHeartbeat } from '../workers/registry.js';
import type { WorkerConfig } from './config.js';
import { killLeftoverSolvers } from './leftovers.js';
import { claimNextTask, requeueLostTasks } from './queue.js';
import { TaskRun } from './runner.js';

export interface WorkerDeps {
  db: Db;
  store: ObjectStore;
  config: WorkerConfig;
  clock: Clock;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export class Worker {
  readonly #deps: Required<WorkerDeps>;
  readonly #runs = new Map<string, { run: TaskRun; done: Promise<void> }>();
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: AbortController = new AbortController();

  constructor(deps: WorkerDeps) {
    this.#deps = { log: () => {}, ...deps };
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
      if (killed.length > 0) log('stopped solvers left by a dead worker', { task_ids: killed });
    } catch (error) {
      log('could not look for leftover solvers', { err: String(error) });
    }
    const leaseMs = config.leaseSeconds * 1000;
    const health = databaseHealth(db);
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
          if (requeued > 0) log('re-queued tasks of lost workers', { count: requeued });
        } else {
          await probe(db);
        }
        while (this.#running && this.#runs.size < config.slots) {
          const task = await claimNextTask(db, config.workerId, versions, config.leaseSeconds * 1000, clock());
          if (!task) break;
          log('running task', { task_id: task.task_id, version: task.version });
          const run = new TaskRun({ db, store: this.#deps.store, config, clock, log }, task);
          const done = run.run().finally(() => {
            this.#runs.delete(task.task_id);
            this.poke();
          });
          this.#runs.set(task.task_id, { run, done });
        }
        loopFailing = false;
      } catch (error) {
        // An unreachable database is said once per outage (and by its health record), not every poll.
        if (!loopFailing || !isDatabaseUnavailable(error)) log('worker loop error', { err: String(error) });
        loopFailing = isDatabaseUnavailable(error);
      }
      this.#wake = new AbortController();
      await sleep(pauseMs, undefined, { signal: this.#wake.signal }).catch(() => {});
    }
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
      this.#deps.log('could not remove this worker from the list of workers', { err: String(error) }),
    );
  }
}

/** A query whose only purpose is to tell the database's health record whether it answers. */
async function probe(db: Db): Promise<void> {
  await db.selectFrom('tasks').select('task_id').limit(1).execute();
}
