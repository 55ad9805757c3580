/**
 * Slurm's command-line tools, run without a shell. Slurm 22.05 has no `scontrol --json`
 * and `sacct --json` needs slurmdbd, so jobs are followed with `squeue --json` (which
 * ignores filters: every job the controller knows comes back) and, once a job has left the
 * controller's memory, with `sacct -c` (the completion log, JobCompType=jobcomp/filetxt).
 */
import { execFile } from 'node:child_process';

export interface SlurmEnv {
  /** SLURM_CONF for the tools when set (else theirs: /etc/slurm/slurm.conf). */
  conf?: string;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one Slurm tool; never throws for a non-zero exit (the caller reads `code`). */
export function runSlurm(command: string, args: string[], env: SlurmEnv, timeoutMs = 60_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        env: env.conf ? { ...process.env, SLURM_CONF: env.conf } : process.env,
        timeout: timeoutMs,
        maxBuffer: 256 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 127) : 0;
        const why = error && typeof error.code !== 'number' ? `${error.message}\n` : '';
        resolve({ code, stdout: String(stdout), stderr: why + String(stderr) });
      },
    );
  });
}

/** A job as `squeue --json` (openapi v0.0.38) describes it; only the fields the executor reads. */
export interface SlurmJob {
  jobId: string;
  state: string;
  reason: string | null;
  /** Raw wait status: exit code in bits 8–15, signal in the low 7 bits. */
  exitStatus: number;
  startTime: number;
  comment: string;
  /** Minutes, or null without a limit. */
  timeLimit: number | null;
}

export type QueueSnapshot = { ok: true; jobs: Map<string, SlurmJob> } | { ok: false; error: string };

interface RawJob {
  job_id?: number;
  job_state?: string;
  state_reason?: string;
  exit_code?: number;
  start_time?: number;
  comment?: string;
  time_limit?: number | null;
}

/** Every job the controller knows; `ok: false` when it cannot be asked (down, misconfigured). */
export async function readQueue(env: SlurmEnv): Promise<QueueSnapshot> {
  const result = await runSlurm('squeue', ['--json'], env);
  if (result.code !== 0) return { ok: false, error: firstLine(result.stderr) || `squeue exited with ${result.code}` };
  let parsed: { jobs?: RawJob[]; errors?: unknown[] };
  try {
    parsed = JSON.parse(result.stdout) as typeof parsed;
  } catch {
    return { ok: false, error: 'squeue --json printed something that is not JSON' };
  }
  // With the controller down squeue still exits 0, with no jobs and the reason in `errors`.
  if (Array.isArray(parsed.errors) && parsed.errors.length > 0) {
    return { ok: false, error: describeErrors(parsed.errors) };
  }
  const jobs = new Map<string, SlurmJob>();
  for (const raw of parsed.jobs ?? []) {
    if (raw.job_id === undefined) continue;
    const jobId = String(raw.job_id);
    jobs.set(jobId, {
      jobId,
      state: String(raw.job_state ?? 'UNKNOWN').toUpperCase(),
      reason: raw.state_reason && raw.state_reason !== 'None' ? raw.state_reason : null,
      exitStatus: Number(raw.exit_code ?? 0),
      startTime: Number(raw.start_time ?? 0),
      comment: raw.comment ?? '',
      timeLimit: typeof raw.time_limit === 'number' && raw.time_limit > 0 ? raw.time_limit : null,
    });
  }
  return { ok: true, jobs };
}

/** A finished job from the completion log: its final state, or undefined if the log has no record. */
export async function readCompletion(env: SlurmEnv, jobId: string): Promise<string | undefined> {
  const result = await runSlurm('sacct', ['-c', '-j', jobId, '-P', '-n', '-o', 'JobID,State'], env);
  if (result.code !== 0) return undefined;
  for (const line of result.stdout.split('\n')) {
    const [id, state] = line.split('|');
    if (id === jobId && state) return state.trim().split(/\s+/)[0]!.toUpperCase();
  }
  return undefined;
}

function describeErrors(errors: unknown[]): string {
  return errors
    .map((e) => {
      if (e && typeof e === 'object') {
        const { error, description } = e as { error?: unknown; description?: unknown };
        return String(description || error || JSON.stringify(e));
      }
      return String(e);
    })
    .join('; ');
}

export function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find(Boolean) ?? ''
  );
}

/**
 * Why this host cannot submit Slurm jobs, or undefined if it can: Slurm's commands on PATH
 * and a controller that answers are checked when a worker starts (worker/main.ts).
 */
export async function slurmProblem(env: SlurmEnv): Promise<string | undefined> {
  const version = await runSlurm('sbatch', ['--version'], env, 10_000);
  if (version.code !== 0) {
    return `EXECUTOR=slurm needs Slurm's commands (sbatch, squeue, scancel, sacct) on PATH (Debian: apt-get install slurm-client): ${firstLine(version.stderr) || `sbatch exited with ${version.code}`}`;
  }
  return undefined;
}
