/** `speos-portal tasks list` and `speos-portal tasks show ID`. */
import { parseArgs } from 'node:util';
import { withRetry } from '@speos-portal/client';
import type { Task, TaskDetail } from '@speos-portal/protocol';
import { CliError } from '../cli-error.js';
import { connect, explain } from '../connection.js';
import { formatBytes, formatTime } from '../format.js';

export const TASKS_USAGE = `Usage: speos-portal tasks list [--status S] [--submitter NAME] [--q TEXT] [--page N] [--page-size N] [--json]
       speos-portal tasks show TASK_ID [--json]

Common options: --server URL (env SPEOS_PORTAL_URL), --token T (env SPEOS_PORTAL_TOKEN)`;

const OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  status: { type: 'string' },
  submitter: { type: 'string' },
  q: { type: 'string' },
  page: { type: 'string' },
  'page-size': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function tasksCommand(argv: string[]): Promise<void> {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new CliError(`${(error as Error).message.split('\n')[0]}; see speos-portal tasks --help`, 2);
  }
  const { values, positionals } = parsed;
  const [sub, ...rest] = positionals;
  if (values.help || !sub) {
    console.log(TASKS_USAGE);
    return;
  }
  const api = connect(values);
  const call = <T>(fn: (signal?: AbortSignal) => Promise<T>) =>
    withRetry(fn, { policy: { maxAttempts: 3, baseDelayMs: 300 } }).catch((error: unknown) => {
      throw explain(api, error);
    });

  if (sub === 'list') {
    if (rest.length > 0) throw new CliError(`tasks list: unexpected argument "${rest[0]}"`, 2);
    const page = values.page ? Number(values.page) : undefined;
    const pageSize = values['page-size'] ? Number(values['page-size']) : undefined;
    for (const [flag, n] of [
      ['page', page],
      ['page-size', pageSize],
    ] as const) {
      if (n !== undefined && (!Number.isInteger(n) || n < 1))
        throw new CliError(`--${flag} must be a whole number ≥ 1`, 2);
    }
    const list = await call((signal) =>
      api.listTasks(
        {
          ...(page ? { page } : {}),
          ...(pageSize ? { page_size: pageSize } : {}),
          ...(values.status ? { status: values.status } : {}),
          ...(values.submitter ? { submitter: values.submitter } : {}),
          ...(values.q ? { q: values.q } : {}),
        },
        signal,
      ),
    );
    if (values.json) {
      console.log(JSON.stringify(list));
      return;
    }
    printTable(list.items);
    const pages = Math.max(1, Math.ceil(list.total / list.page_size));
    console.log(`${list.total} task${list.total === 1 ? '' : 's'}; page ${list.page} of ${pages}`);
    return;
  }
  if (sub === 'show') {
    if (rest.length !== 1) throw new CliError('tasks show: expected exactly one TASK_ID', 2);
    const detail = await call((signal) => api.getTaskDetail(rest[0]!, signal));
    if (values.json) {
      console.log(JSON.stringify(detail));
      return;
    }
    printDetail(detail);
    return;
  }
  throw new CliError(`tasks: unknown subcommand "${sub}"; use list or show`, 2);
}

function printTable(tasks: Task[]): void {
  const rows = [
    ['TASK ID', 'STATUS', 'JOB', 'SUBMITTER', 'CREATED (UTC)'],
    ...tasks.map((t) => [t.task_id, t.status, t.job_name ?? '-', t.submitter ?? '-', formatTime(t.created_at)]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => [...(r[i] ?? '')].length)));
  for (const row of rows) {
    console.log(
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
  }
}

function printDetail(t: TaskDetail): void {
  const lines: [string, string | number | null | undefined][] = [
    ['task', t.task_id],
    ['status', t.status],
    ['job', t.job_name],
    ['submitter', t.submitter],
    ['profile', t.profile_name],
    ['version', t.version],
    ['threads', t.thread_count],
    ['priority', t.priority],
    ['master', t.master ? `${t.master.filename} (${formatBytes(t.master.size)}, ${t.master.upload_status})` : null],
    [
      'include',
      t.include ? `${t.include.filename} (${formatBytes(t.include.size)}, ${t.include.upload_status})` : null,
    ],
    ['created', formatTime(t.created_at)],
    ['started', formatTime(t.started_at)],
    ['finished', formatTime(t.finished_at)],
    ['duration', t.duration],
    ['progress', t.progress_info?.progress_percent != null ? `${t.progress_info.progress_percent}%` : null],
    ['message', t.message],
    ['error', t.error_detail],
  ];
  for (const [key, value] of lines) {
    if (value !== null && value !== undefined && value !== '-') console.log(`${`${key}:`.padEnd(11)}${value}`);
  }
  if (t.status_history.length > 0) {
    console.log('history:');
    for (const h of t.status_history)
      console.log(`  ${formatTime(h.at)}  ${h.status}${h.message ? `  ${h.message}` : ''}`);
  }
}
