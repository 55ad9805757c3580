/** `speos-portal worker`: runs SPEOS jobs from the shared database until SIGTERM. */
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { systemClock } from '../clock.js';
import { ConfigError, loadConfig } from '../config.js';
import { databaseHealth, openDatabase } from '../db/connect.js';
import { createLogger } from '../logger.js';
import { closeObjectStore, openObjectStore } from '../storage/open-store.js';
import { loadWorkerConfig } from './config.js';
import { slurmProblem } from './executors/slurm/commands.js';
import { Worker } from './worker.js';

export async function runWorker(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  let workerConfig: ReturnType<typeof loadWorkerConfig>;
  try {
    config = loadConfig(env);
    workerConfig = loadWorkerConfig(env, config.dataDir);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`speos-portal worker: bad configuration: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  if (workerConfig.commands.size === 0) {
    console.error(
      'speos-portal worker: no solver command configured. Set e.g. SPEOS_COMMAND_V252="/opt/ansys_inc/v252/optical/SPEOSHPC.x {master} -t {thread_count} -p {priority}"',
    );
    process.exit(2);
  }
  const log = createLogger(config.logLevel, { component: 'worker', worker_id: workerConfig.workerId });
  if (workerConfig.executor.kind === 'slurm') {
    const { conf, workdirRoot } = workerConfig.executor;
    const problem = await slurmProblem(conf ? { conf } : {});
    if (problem) {
      console.error(`speos-portal worker: ${problem}`);
      process.exit(2);
    }
    try {
      await mkdir(workdirRoot, { recursive: true });
      await access(workdirRoot, constants.W_OK);
    } catch (error) {
      console.error(
        `speos-portal worker: SLURM_WORKDIR_ROOT=${workdirRoot} cannot be written: ${(error as Error).message}`,
      );
      process.exit(2);
    }
  }
  let db: Awaited<ReturnType<typeof openDatabase>>;
  try {
    db = await openDatabase(config.databaseUrl, config.dataDir, {
      sqliteSynchronous: config.sqliteSynchronous,
      waitSeconds: config.databaseWaitSeconds,
      onWait: ({ attempt, reason, retryInMs }) =>
        log.warn(
          { attempt, reason },
          `database not reachable yet (${reason}); trying again in ${(retryInMs / 1000).toFixed(1)} s, for up to ${config.databaseWaitSeconds} s (DATABASE_WAIT_SECONDS)`,
        ),
    });
  } catch (error) {
    console.error(`speos-portal worker: could not start: ${(error as Error).message}`);
    process.exit(1);
  }
  databaseHealth(db).listen({
    down: (reason) =>
      log.warn(
        { backend: 'database', reason },
        `the database cannot be reached (${reason}); running solvers continue, their logs wait`,
      ),
    up: (downForMs) =>
      log.warn(
        { backend: 'database', down_seconds: Math.round(downForMs / 100) / 10 },
        `the database answers again after ${(downForMs / 1000).toFixed(1)} s`,
      ),
  });
  const store = await openObjectStore(config);
  const worker = new Worker({ db, store, config: workerConfig, clock: systemClock, log });
  worker.start();
  log.info({ versions: [...workerConfig.commands.keys()], slots: workerConfig.slots }, 'worker started');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'stopping: running tasks go back to the queue');
    await worker.stop();
    await closeObjectStore(store);
    await db.destroy();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // A promise nobody awaited must not end the worker (its solvers would be stopped).
  process.on('unhandledRejection', (reason) =>
    log.error({ err: reason }, 'unhandled promise rejection; the worker keeps running'),
  );
}
