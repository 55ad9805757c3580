/**
 * Where a task's solver runs: as a child process of this worker (local.ts), or as a batch
 * job of a Slurm cluster (slurm.ts). The run itself (runner.ts) prepares the inputs, keeps
 * the log, progress and lease, and stores the outputs the same way for both.
 */
import type { TerminatedProcess } from '@speos-portal/protocol';
import type { TaskRow } from '../../db/schema.js';
import type { Logger } from '../../logger.js';

export interface SolverExit {
  /** The solver's exit code, or null if a signal (or the scheduler) ended it. */
  code: number | null;
  signal: string | null;
  /** Why it ended, in words for users, when an exit code would not say it (a time limit, a failed node). */
  failure?: string;
  /** The run stopped following a job that goes on (Slurm: this worker shut down or lost the task). */
  detached?: boolean;
}

/** What a scheduler says about a submitted job while it waits or runs. */
export interface QueueState {
  jobId: string;
  state: 'PENDING' | 'RUNNING';
  /** The scheduler's pending reason (Priority, Resources, Licenses, …); null once running. */
  reason: string | null;
  /** Set once, right after sbatch accepted the job. */
  submitted?: true;
  /** When the job started running (epoch ms). */
  startedAt?: number;
}

export interface SolverRequest {
  task: TaskRow;
  /** The solver's argv, filled word by word from the operator's template (command.ts). */
  argv: string[];
  /** The solver's working directory (the master's folder). */
  cwd: string;
  /** The task's working directory, shared with compute nodes for Slurm. */
  runDir: string;
  /** Solver output, in order, as it comes. */
  onOutput: (text: string) => void;
  /** A line for the task's internal_detail (operators only). */
  onNote: (line: string) => void;
  /** A submitted job's queue state changed; resolves once it is recorded. */
  onQueue: (state: QueueState) => Promise<void>;
  log: Logger;
}

export interface SolverRun {
  /** Settles when the solver has ended, or when this worker stopped following it. */
  readonly exit: Promise<SolverExit>;
  /**
   * `cancel`: end the solver (the user asked). `lost` / `shutdown`: the task is no longer
   * this worker's to run; a local solver ends, a Slurm job goes on for whoever follows it next.
   */
  stop(why: 'cancel' | 'lost' | 'shutdown'): void;
  /** The processes a stop ended, for the stop's answer (empty when a scheduler ended them). */
  terminated(): TerminatedProcess[];
}

export interface Executor {
  readonly kind: 'local' | 'slurm';
  /** Starts the solver; throws a TaskFailure when it cannot be started or submitted. */
  start(request: SolverRequest): Promise<SolverRun>;
  /** Follows a job submitted before this worker (re)started (Slurm only). */
  attach?(request: SolverRequest, jobId: string): Promise<SolverRun>;
}
