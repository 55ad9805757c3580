/** The batch script and sbatch's options for one task. */
import type { TaskRow } from '../../../db/schema.js';

/**
 * A POSIX sh script that execs the solver's argv. Each word is single-quoted, so that the
 * shell takes it as it is (spaces, quotes, `;`, `$` are just characters): the same no-shell
 * word-by-word filling as the local executor.
 */
export function batchScript(argv: string[], taskId: string): string {
  const words = argv.map((word) => `'${word.replaceAll("'", `'\\''`)}'`);
  return `#!/bin/sh\n# Written by speos-portal for task ${taskId}.\nexec ${words.join(' ')}\n`;
}

/**
 * The task's job name for squeue: letters (any script, 车灯 too), digits, `.`, `_` and `-`;
 * other runs of characters become one `_`, which squeue's columns and admins' scripts read better.
 */
export function jobName(task: TaskRow): string {
  const name = (task.job_name ?? '')
    .replace(/[^\p{L}\p{N}._-]+/gu, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 64);
  return name || `speos-${task.task_id.slice(0, 8)}`;
}

export function sbatchArguments(options: {
  task: TaskRow;
  cwd: string;
  output: string;
  comment: string;
  licenses: string[];
  siteArgs: string[];
}): string[] {
  const { task } = options;
  const params = JSON.parse(task.params) as Record<string, unknown>;
  const args = [
    '--parsable',
    // The site's own options (partition, account, …) first: the task's own below win.
    ...options.siteArgs,
    `--job-name=${jobName(task)}`,
    `--chdir=${options.cwd}`,
    `--output=${options.output}`,
    `--comment=${options.comment}`,
    `--cpus-per-task=${Number(task.thread_count ?? 8)}`,
    // A failed node ends the task with a message instead of running the solver again unseen.
    '--no-requeue',
  ];
  const nodes = Number(params.node_count);
  if (Number.isInteger(nodes) && nodes > 0) args.push(`--nodes=${nodes}`);
  const hours = Number(params.walltime_hours);
  if (Number.isFinite(hours) && hours > 0) args.push(`--time=${Math.max(1, Math.ceil(hours * 60))}`);
  if (options.licenses.length > 0) args.push(`--licenses=${options.licenses.map((l) => `${l}:1`).join(',')}`);
  return args;
}
