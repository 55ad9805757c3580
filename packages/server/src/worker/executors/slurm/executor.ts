/**
 * The solver as a Slurm batch job. The task's working directory (under SLURM_WORKDIR_ROOT,
 * on a filesystem the compute nodes share) holds the inputs, the batch script and the job's
 * output file. The job is submitted with `sbatch --parsable`, followed with `squeue --json`
 * (and the completion log once it has left the queue), its output file tailed into the
 * task's log. The worker holds no lease on the job: if it stops following (shutdown, lost
 * task), the job goes on and a worker that starts later attaches to it again by its id.
 */
import { open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { TaskFailure } from '../../inputs.js';
import type { Executor, SolverExit, SolverRequest, SolverRun } from '../executor.js';
import { firstLine, type QueueSnapshot, readCompletion, readQueue, runSlurm, type SlurmEnv } from './commands.js';
import { ACTIVE_STATES, exitFromSlurm, FINAL_STATES } from './states.js';
import { batchScript, sbatchArguments } from './submit.js';

export interface SlurmExecutorConfig {
  /** SLURM_CONF for the Slurm tools, when the worker's environment should not decide. */
  conf?: string;
  /** Site options for sbatch (SLURM_SBATCH_ARGS), e.g. --partition and --account. */
  sbatchArgs: string[];
  /** How often the queue and the job's output are read. */
  pollSeconds: number;
  /** Licences each job asks Slurm for (-L name:1 each). */
  licenses: string[];
}

/** Files of the task's working directory that belong to the job, not to its results. */
export const JOB_SCRIPT = 'speos-portal-job.sh';
export const JOB_OUTPUT = 'speos-portal-job-output.txt';
/** How far the job's output has been copied to the task's log (for a worker that attaches later). */
const OUTPUT_OFFSET = 'speos-portal-job-output.offset';
/** Polls without the job in the queue before its absence counts (the controller may lag behind sbatch). */
const MISSES_BEFORE_GONE = 3;

export class SlurmExecutor implements Executor {
  readonly kind = 'slurm';
  readonly #config: SlurmExecutorConfig;
  readonly #env: SlurmEnv;
  /** One `squeue --json` per poll for all runs: it lists every job anyway. */
  #snapshot: { at: number; value: Promise<QueueSnapshot> } | undefined;

  constructor(config: SlurmExecutorConfig) {
    this.#config = config;
    this.#env = config.conf ? { conf: config.conf } : {};
  }

  /** The controller's jobs, at most half a poll old. */
  queue(): Promise<QueueSnapshot> {
    const now = Date.now();
    if (!this.#snapshot || now - this.#snapshot.at >= (this.#config.pollSeconds * 1000) / 2) {
      this.#snapshot = { at: now, value: readQueue(this.#env) };
    }
    return this.#snapshot.value;
  }

  async start(request: SolverRequest): Promise<SolverRun> {
    const { task, runDir } = request;
    // A worker that died between sbatch and recording the job id left a job behind: follow
    // that one rather than run the task twice.
    const earlier = await this.queue();
    if (earlier.ok) {
      for (const job of earlier.jobs.values()) {
        if (job.comment === jobComment(task.task_id) && !FINAL_STATES.has(job.state)) {
          request.onNote(`found Slurm job ${job.jobId} submitted by an earlier run; following it`);
          return this.attach(request, job.jobId);
        }
      }
    }
    const script = path.join(runDir, JOB_SCRIPT);
    await writeFile(script, batchScript(request.argv, task.task_id), { mode: 0o755 });
    const args = sbatchArguments({
      task,
      cwd: request.cwd,
      output: path.join(runDir, JOB_OUTPUT),
      comment: jobComment(task.task_id),
      licenses: this.#config.licenses,
      siteArgs: this.#config.sbatchArgs,
    });
    args.push(script);
    request.onNote(`sbatch ${args.map((a) => JSON.stringify(a)).join(' ')}`);
    const result = await runSlurm('sbatch', args, this.#env);
    const jobId = result.stdout.trim().split(';')[0] ?? '';
    if (result.code !== 0 || !/^\d+$/.test(jobId)) {
      request.onNote(`sbatch exited with ${result.code}: ${result.stderr.trim()}`);
      request.log.warn(
        { task_id: task.task_id, code: result.code, err: result.stderr.trim() },
        'sbatch refused the job',
      );
      const said = firstLine(result.stderr).replace(/^sbatch: error: /, '');
      throw new TaskFailure(`Slurm did not accept the job${said ? `: ${said}` : ''}`);
    }
    request.log.info({ task_id: task.task_id, slurm_job_id: jobId }, 'submitted to Slurm');
    await writeFile(path.join(runDir, OUTPUT_OFFSET), '0');
    await request.onQueue({ jobId, state: 'PENDING', reason: null, submitted: true });
    return this.#follow(request, jobId);
  }

  /** Cancels a job nobody follows any more; true once Slurm took the request (or knows no such job). */
  async cancel(jobId: string): Promise<boolean> {
    return (await runSlurm('scancel', ['--full', jobId], this.#env)).code === 0;
  }

  async attach(request: SolverRequest, jobId: string): Promise<SolverRun> {
    request.log.info({ task_id: request.task.task_id, slurm_job_id: jobId }, 'following Slurm job');
    return this.#follow(request, jobId);
  }

  #follow(request: SolverRequest, jobId: string): SolverRun {
    let stopWhy: 'cancel' | 'lost' | 'shutdown' | undefined;
    let wake = new AbortController();
    const tail = new OutputTail(request.runDir, request.onOutput);
    const follow = async (): Promise<SolverExit> => {
      let reported: string | undefined;
      let misses = 0;
      let cancelSent = false;
      let queueFailing: string | undefined;
      let timeLimit: number | null = null;
      for (;;) {
        if (stopWhy === 'lost' || stopWhy === 'shutdown') {
          await tail.read();
          return { code: null, signal: null, detached: true };
        }
        if (stopWhy === 'cancel' && !cancelSent) {
          // --full: the batch shell and every process it started get the signal, not only its steps.
          const cancel = await runSlurm('scancel', ['--full', jobId], this.#env);
          cancelSent = cancel.code === 0;
          if (!cancelSent)
            request.log.warn({ slurm_job_id: jobId, err: cancel.stderr }, 'scancel failed; trying again');
        }
        await tail.read();
        const snapshot = await this.queue();
        if (!snapshot.ok) {
          if (queueFailing !== snapshot.error) {
            request.log.warn(
              {
                slurm_job_id: jobId,
                err: snapshot.error,
              },
              'cannot read the Slurm queue; the job goes on, following it when Slurm answers',
            );
          }
          queueFailing = snapshot.error;
        } else {
          if (queueFailing) request.log.info({ slurm_job_id: jobId }, 'the Slurm queue answers again');
          queueFailing = undefined;
          const job = snapshot.jobs.get(jobId);
          if (job) {
            misses = 0;
            timeLimit = job.timeLimit;
            if (FINAL_STATES.has(job.state)) {
              await tail.read();
              return exitFromSlurm(job.state, job.exitStatus, {
                jobId,
                cancelRequested: stopWhy === 'cancel',
                timeLimitMinutes: timeLimit,
              });
            }
            const now = ACTIVE_STATES.has(job.state) ? 'RUNNING' : 'PENDING';
            const reason = now === 'PENDING' ? (job.reason ?? 'None') : null;
            const key = `${now}:${reason}`;
            if (key !== reported) {
              await request.onQueue({
                jobId,
                state: now,
                reason: now === 'PENDING' ? job.reason : null,
                ...(now === 'RUNNING' && job.startTime > 0 ? { startedAt: job.startTime * 1000 } : {}),
              });
              reported = key;
            }
          } else if (++misses >= MISSES_BEFORE_GONE) {
            // Purged from the controller (MinJobAge) while nobody followed it: the completion log knows.
            const state = await readCompletion(this.#env, jobId);
            if (state) {
              await tail.read();
              return exitFromSlurm(state, undefined, {
                jobId,
                cancelRequested: stopWhy === 'cancel',
                timeLimitMinutes: timeLimit,
              });
            }
            if (misses >= MISSES_BEFORE_GONE * 10) {
              await tail.read();
              return {
                code: null,
                signal: null,
                failure: `Slurm no longer knows job ${jobId} and has no record of how it ended`,
              };
            }
          }
        }
        await sleep(this.#config.pollSeconds * 1000, undefined, { signal: wake.signal }).catch(() => {});
        wake = new AbortController();
      }
    };
    return {
      exit: follow(),
      terminated: () => [],
      stop: (why) => {
        stopWhy ??= why;
        wake.abort();
      },
    };
  }
}

export function jobComment(taskId: string): string {
  return `speos-portal:${taskId}`;
}

/**
 * Copies what the job wrote to its output file since the last read into the task's log.
 * The offset is kept in the working directory so that a worker attaching later goes on
 * where this one stopped (text read but not yet in the database when a worker is killed
 * can be lost; nothing is copied twice).
 */
class OutputTail {
  readonly #file: string;
  readonly #offsetFile: string;
  readonly #onText: (text: string) => void;
  readonly #decoder = new StringDecoder('utf8');
  #offset: number | undefined;
  #reading: Promise<void> | undefined;

  constructor(runDir: string, onText: (text: string) => void) {
    this.#file = path.join(runDir, JOB_OUTPUT);
    this.#offsetFile = path.join(runDir, OUTPUT_OFFSET);
    this.#onText = onText;
  }

  read(): Promise<void> {
    this.#reading ??= this.#read().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async #read(): Promise<void> {
    if (this.#offset === undefined) {
      const saved = await readFile(this.#offsetFile, 'utf8').catch(() => '0');
      this.#offset = Number.parseInt(saved, 10) || 0;
    }
    const handle = await open(this.#file, 'r').catch(() => undefined);
    if (!handle) return; // not written yet: the job has not started
    try {
      const buffer = Buffer.alloc(1024 * 1024);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.#offset);
        if (bytesRead === 0) break;
        this.#offset += bytesRead;
        const text = this.#decoder.write(buffer.subarray(0, bytesRead));
        if (text) this.#onText(text);
      }
    } finally {
      await handle.close();
    }
    await writeFile(this.#offsetFile, String(this.#offset));
  }
}
