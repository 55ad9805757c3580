/** What a Slurm job's end means for the task (Slurm 22.05 job states and raw wait statuses). */
import { constants } from 'node:os';
import type { SolverExit } from '../executor.js';

/** States after which a job never runs again (with --no-requeue, which the executor passes). */
export const FINAL_STATES = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TIMEOUT',
  'NODE_FAIL',
  'OUT_OF_MEMORY',
  'BOOT_FAIL',
  'DEADLINE',
  'PREEMPTED',
  'SPECIAL_EXIT',
]);

/** States in which the job holds its node (RUNNING for the task; COMPLETING: its processes are ending). */
export const ACTIVE_STATES = new Set(['RUNNING', 'COMPLETING', 'CONFIGURING', 'SUSPENDED', 'STAGE_OUT', 'SIGNALING']);

function signalName(number: number): string {
  const found = Object.entries(constants.signals).find(([, n]) => n === number);
  return found ? found[0] : `signal ${number}`;
}

/**
 * The task's outcome for a job that ended in `state`. `exitStatus` is the raw wait status
 * squeue reports (exit 3 → 768; SIGTERM → 15); the completion log has none (undefined).
 */
export function exitFromSlurm(
  state: string,
  exitStatus: number | undefined,
  context: { jobId: string; cancelRequested: boolean; timeLimitMinutes: number | null },
): SolverExit {
  const code = exitStatus === undefined ? null : (exitStatus >> 8) & 0xff;
  const signal = exitStatus === undefined || (exitStatus & 0x7f) === 0 ? null : signalName(exitStatus & 0x7f);
  const job = `Slurm job ${context.jobId}`;
  switch (state) {
    case 'COMPLETED':
      return { code: code ?? 0, signal: null };
    case 'FAILED':
      if (code === null && signal === null) return { code: null, signal: null, failure: `${job} failed` };
      return { code: signal ? null : code, signal };
    case 'CANCELLED':
      if (context.cancelRequested) return { code: null, signal: signal ?? 'SIGTERM' };
      return {
        code: null,
        signal,
        failure: `${job} was cancelled in Slurm (by an administrator or the scheduler), not from the portal`,
      };
    case 'TIMEOUT': {
      const limit = context.timeLimitMinutes ? ` of ${formatMinutes(context.timeLimitMinutes)}` : '';
      return {
        code: null,
        signal,
        failure: `${job} reached its time limit${limit} and Slurm stopped it; retry with a larger walltime_hours`,
      };
    }
    case 'NODE_FAIL':
      return { code: null, signal, failure: `the compute node running ${job} failed (NODE_FAIL); retry the task` };
    case 'OUT_OF_MEMORY':
      return {
        code: null,
        signal,
        failure: `${job} ran out of memory on its compute node (OUT_OF_MEMORY); the cluster's administrators can say how much a job may use`,
      };
    case 'PREEMPTED':
      return { code: null, signal, failure: `${job} was preempted by a job of higher priority; retry the task` };
    case 'DEADLINE':
      return { code: null, signal, failure: `${job} missed its deadline and Slurm removed it` };
    case 'BOOT_FAIL':
      return { code: null, signal, failure: `the compute node for ${job} failed to boot (BOOT_FAIL); retry the task` };
    default:
      return { code: null, signal, failure: `Slurm ended ${job} as ${state}` };
  }
}

function formatMinutes(minutes: number): string {
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}
