/**
 * The solver as a child process of this worker: its own process group, no shell, under a
 * watchdog (watchdog.ts) so that it never outlives the worker, recorded (leftovers.ts) so
 * that a later worker on this host stops it if the watchdog could not.
 */
import { StringDecoder } from 'node:string_decoder';
import type { TerminatedProcess } from '@speos-portal/protocol';
import { TaskFailure } from '../inputs.js';
import { forgetSolver, recordSolver } from '../leftovers.js';
import { groupAlive, processAlive, processGroupMembers, runningMembers, signalGroup } from '../process-group.js';
import { spawnSupervised } from '../watchdog.js';
import type { Executor, SolverExit, SolverRequest, SolverRun } from './executor.js';

export interface LocalExecutorConfig {
  workDir: string;
  workerId: string;
  stopGraceSeconds: number;
}

export class LocalExecutor implements Executor {
  readonly kind = 'local';
  readonly #config: LocalExecutorConfig;

  constructor(config: LocalExecutorConfig) {
    this.#config = config;
  }

  async start(request: SolverRequest): Promise<SolverRun> {
    const { argv, cwd, task } = request;
    const config = this.#config;
    const { child, started } = spawnSupervised(argv, { cwd, graceMs: config.stopGraceSeconds * 1000 });
    // A decoder per stream: a character split across two chunks is kept whole.
    const reader = (decoder: StringDecoder) => (chunk: Buffer) => request.onOutput(decoder.write(chunk));
    child.stdout.on('data', reader(new StringDecoder('utf8')));
    child.stderr.on('data', reader(new StringDecoder('utf8')));
    const closed = new Promise<SolverExit>((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    const outcome = await started;
    if ('error' in outcome) {
      await closed;
      child.stdin.destroy();
      request.onNote(`could not start ${argv[0]}: ${outcome.error}`);
      request.log.error({ task_id: task.task_id, command: argv[0], err: outcome.error }, 'could not start the solver');
      throw new TaskFailure(
        `the solver for SPEOS ${task.version ?? ''} could not be started on this worker (its log has the reason)`,
      );
    }
    const pgid = child.pid!;
    await recordSolver(config.workDir, task.task_id, config.workerId, pgid).catch((error) =>
      request.log.warn({ task_id: task.task_id, err: error }, 'could not record the solver'),
    );
    let alive = true;
    let terminated: TerminatedProcess[] = [];
    const exit = closed.then(async (result) => {
      child.stdin.destroy();
      // Whatever the solver started and left behind does not outlive the run either.
      if ((await runningMembers(pgid)).length > 0) signalGroup(pgid, 'SIGKILL');
      await forgetSolver(config.workDir, task.task_id).catch(() => {});
      alive = false; // gone: nothing left to signal
      return result;
    });
    return {
      exit,
      terminated: () => terminated,
      // SIGTERM to the whole group, SIGKILL after the grace period if anything is left.
      stop: () => {
        if (!alive) return;
        void processGroupMembers(pgid).then((members) => {
          // The group's leader is the watchdog, not one of the solver's processes.
          terminated = members.filter((m) => m.pid !== pgid).map((m) => ({ ...m, method: 'terminated' }));
          signalGroup(pgid, 'SIGTERM');
          const timer = setTimeout(() => {
            if (!groupAlive(pgid)) return;
            // What outlived SIGTERM is killed: the stop answer says so per process.
            for (const member of terminated) if (processAlive(member.pid)) member.method = 'killed';
            signalGroup(pgid, 'SIGKILL');
          }, config.stopGraceSeconds * 1000);
          timer.unref();
        });
      },
    };
  }
}
