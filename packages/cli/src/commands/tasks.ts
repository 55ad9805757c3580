/** `speos-portal tasks list | show | logs | stop | retry | delete | outputs`. */
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { PortalClient } from '@speos-portal/client';
import { localizeTaskMessage, type MessageLang, queueLine, type Task, type TaskDetail } from '@speos-portal/protocol';
import { CliError, oneLine } from '../cli-error.js';
import { connect, explain, quickRead } from '../connection.js';
import { formatBytes, formatTime } from '../format.js';
import { argumentError } from './arg-errors.js';
import { formatTable } from './table.js';
import { OPTIONS, type TaskContext, type Values } from './task-context.js';

export const TASKS_USAGE = `Usage: speos-portal tasks <subcommand> [options]

  list [--status S] [--submitter NAME] [--q TEXT] [--page N] [--page-size N]
                                   tasks, newest first (--status PENDING,RUNNING)
  show TASK_ID                     status, progress, timings, message and history
  logs TASK_ID [--follow]          the solver's console output; --follow prints it as it
                                   grows until the task ends, then exits 0 if it succeeded,
                                   1 otherwise (final status on stderr)
  stop TASK_ID                     cancel a pending task, or terminate its running solver
  retry TASK_ID [--display-name N] [--submitter S]
                                   run an ended task again on the same inputs; prints the new id
  delete TASK_ID [--yes]           delete a task with its log and outputs (asks first;
                                   without a terminal, --yes is required)
  outputs TASK_ID [--download DIR] [--zip FILE]
                                   list the result files; save each one into DIR
                                   (subfolders kept), or all of them as one zip

Options:
  --json         print the server's answer as JSON (logs: one object per chunk)
  --lang zh|en   language of the server's notes (status history, messages); default
                 from LANG (zh_CN.UTF-8 → zh), else en
  --server URL   portal URL (env SPEOS_PORTAL_URL, default http://localhost:8000)
  --token T      bearer token (env SPEOS_PORTAL_TOKEN)
  -h, --help     show this help`;

/** The options each subcommand takes, beyond --server, --token, --json and --help. */
const SUBCOMMANDS: Record<string, readonly (keyof typeof OPTIONS)[]> = {
  list: ['status', 'submitter', 'q', 'page', 'page-size'],
  show: [],
  logs: ['follow'],
  stop: [],
  retry: ['display-name', 'submitter'],
  delete: ['yes'],
  outputs: ['download', 'zip'],
};
const TASK_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const COMMON = new Set<string>(['server', 'token', 'json', 'help', 'lang']);

/** --lang, else the locale's language (LC_ALL, LC_MESSAGES, LANG as POSIX orders them), else English. */
export function cliLang(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): MessageLang {
  if (flag !== undefined) {
    const lang = flag.trim().toLowerCase();
    if (lang.startsWith('zh')) return 'zh';
    if (lang.startsWith('en')) return 'en';
    throw new CliError(`--lang must be zh or en, got "${flag}"`, 2);
  }
  const locale = env.LC_ALL || env.LC_MESSAGES || env.LANG || '';
  return locale.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

/** Calls the API the way every subcommand does; failures become one line. */

export async function tasksCommand(argv: string[]): Promise<void> {
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw argumentError(error, TASKS_USAGE);
  }
  const { values, positionals } = parsed;
  const [sub, ...rest] = positionals;
  if (values.help || !sub) {
    console.log(TASKS_USAGE);
    return;
  }
  const allowed = SUBCOMMANDS[sub];
  if (!allowed) {
    throw new CliError(`unknown subcommand "${sub}"; use ${Object.keys(SUBCOMMANDS).join(', ')}`, 2);
  }
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && !COMMON.has(name) && !allowed.includes(name as keyof typeof OPTIONS)) {
      throw new CliError(`${sub} does not take --${name}; see speos-portal tasks --help`, 2);
    }
  }
  const lang = cliLang(values.lang);
  if (sub !== 'list' && rest.length !== 1) {
    throw new CliError(`${sub} takes exactly one TASK_ID, got ${rest.length}`, 2);
  }
  // The server would explain its id rule; to a person a malformed id is simply no task of theirs.
  if (sub !== 'list' && !TASK_ID.test(rest[0]!)) {
    throw new CliError(
      `no such task "${rest[0]}"; task ids look like 6402a1ff-9762-4e17-8456-a97c474066db (speos-portal tasks list)`,
    );
  }
  const api = await connect(values);
  const ctx: TaskContext = {
    api,
    values,
    read: (fn) => quickRead(api, fn),
    change: (fn) =>
      fn().catch((error: unknown) => {
        throw explain(api, error);
      }),
  };
  const id = rest[0]!;
  switch (sub) {
    case 'list':
      return listTasks(ctx, rest);
    case 'show':
      return showTask(ctx, id, lang);
    case 'logs': {
      const { logsCommand } = await import('./task-logs.js');
      return logsCommand(ctx, id);
    }
    case 'stop':
      return stopTask(ctx, id);
    case 'retry':
      return retryTask(ctx, id);
    case 'delete':
      return deleteTask(ctx, id);
    case 'outputs': {
      const { outputsCommand } = await import('./task-outputs.js');
      return outputsCommand(ctx, id);
    }
  }
}

async function listTasks({ api, values, read }: TaskContext, rest: string[]): Promise<void> {
  if (rest.length > 0) throw new CliError(`list: unexpected argument "${rest[0]}"`, 2);
  const page = values.page ? Number(values.page) : undefined;
  const pageSize = values['page-size'] ? Number(values['page-size']) : undefined;
  for (const [flag, n] of [
    ['page', page],
    ['page-size', pageSize],
  ] as const) {
    if (n !== undefined && (!Number.isInteger(n) || n < 1))
      throw new CliError(`--${flag} must be a whole number ≥ 1`, 2);
  }
  const list = await read((signal) =>
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
}

async function showTask({ api, values, read }: TaskContext, id: string, lang: MessageLang): Promise<void> {
  const detail = await read((signal) => api.getTaskDetail(id, signal));
  if (values.json) {
    console.log(JSON.stringify(detail));
    return;
  }
  printDetail(detail, lang);
}

async function stopTask({ api, values, change }: TaskContext, id: string): Promise<void> {
  const stopped = await change(() => api.stopTask(id));
  if (values.json) {
    console.log(JSON.stringify(stopped));
    return;
  }
  const ended = stopped.terminated_processes.map(
    (p) => `${p.pid} ${p.name}${p.method === 'killed' ? ' (killed)' : ''}`,
  );
  console.log(
    `task ${stopped.task_id}: ${stopped.status} (${stopped.message}${ended.length > 0 ? `; terminated process${ended.length === 1 ? '' : 'es'} ${ended.join(', ')}` : ''})`,
  );
}

async function retryTask({ api, values, read }: TaskContext, id: string): Promise<void> {
  // One key for this command: a repeat after a lost answer gets the same new task, so the
  // call may be retried like a read.
  const idempotencyKey = randomUUID();
  const retried = await read((signal) =>
    api.retryTask(
      id,
      {
        ...(values['display-name'] !== undefined ? { display_name: values['display-name'] } : {}),
        ...(values.submitter !== undefined ? { submitter: values.submitter } : {}),
      },
      signal,
      { idempotencyKey },
    ),
  );
  if (values.json) {
    console.log(JSON.stringify(retried));
    return;
  }
  console.log(`new task ${retried.new_task_id} (${retried.status}), a retry of ${retried.original_task_id}`);
}

async function deleteTask({ api, values, read, change }: TaskContext, id: string): Promise<void> {
  if (!values.yes) {
    if (!process.stdin.isTTY) {
      throw new CliError(`not deleting task ${id} without confirmation: no terminal to ask on; add --yes`, 2);
    }
    const task = await read((signal) => api.getTask(id, signal));
    const what = `${task.job_name ? `"${task.job_name}", ` : ''}${task.status}`;
    if (!(await confirm(`Delete task ${id} (${what}) and its outputs? [y/N] `))) {
      throw new CliError(`task ${id} not deleted`);
    }
  }
  await change(() => api.deleteTask(id));
  if (values.json) console.log(JSON.stringify({ task_id: id, deleted: true }));
  else console.log(`deleted task ${id}`);
}

/** Asks on the terminal (prompt on stderr, so stdout stays clean); Ctrl-C exits 130. */
async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.on('SIGINT', () => {
        process.stderr.write('\n');
        process.exit(130);
      });
      rl.on('close', () => resolve(''));
      rl.question(question, resolve);
    });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

function printTable(tasks: Task[]): void {
  const rows = [
    ['TASK ID', 'STATUS', 'JOB', 'SUBMITTER', 'CREATED (UTC)'],
    // The name the web UI shows: a retry's display name, else the job name.
    ...tasks.map((t) => [
      t.task_id,
      t.status,
      oneLine(t.display_name || t.job_name || '-'),
      t.submitter ?? '-',
      formatTime(t.created_at),
    ]),
  ];
  for (const line of formatTable(rows)) console.log(line);
}

/** `42%, pass 2/5, sensor 1/3, ~00:01:10 left, <message>` from what the solver reported. */
export function describeProgress(t: Pick<Task, 'progress_info'>): string | null {
  const p = t.progress_info;
  if (!p) return null;
  const parts: string[] = [];
  if (p.progress_percent != null) parts.push(`${p.progress_percent}%`);
  if (p.current_pass != null) parts.push(`pass ${p.current_pass}/${p.total_passes ?? '?'}`);
  if (p.current_sensor != null) parts.push(`sensor ${p.current_sensor}/${p.total_sensors ?? '?'}`);
  if (p.estimated_time) parts.push(`${p.estimated_time} left`);
  if (p.message) parts.push(oneLine(p.message));
  return parts.length > 0 ? parts.join(', ') : null;
}

const ERROR_LINES = 12;

function printDetail(t: TaskDetail, lang: MessageLang): void {
  const say = (
    text: string | null,
    code: string | null | undefined,
    params: Record<string, string> | null | undefined,
  ) => (text === null ? null : localizeTaskMessage(text, code, params, lang));
  const lines: [string, string | number | null | undefined][] = [
    ['task', t.task_id],
    ['status', t.status],
    ['job', t.job_name],
    ['name', t.display_name !== t.job_name ? t.display_name : null],
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
    ['progress', describeProgress(t)],
    // A coded reason (no worker online, none for this version) is for a person to act on: its own line.
    ['queue', t.queue_position ? queueLine(t.queue_position, t.queue_reason_code ? null : t.queue_reason) : null],
    [
      'waiting',
      t.queue_reason_code ? say(t.queue_reason ?? null, t.queue_reason_code, { version: t.version ?? '?' }) : null,
    ],
    ['slurm job', t.slurm_job_id],
    ['message', say(t.message, t.message_code, t.message_params)],
    ['retry of', t.parent_task_id],
    ['retried as', t.retried_task_ids.length > 0 ? t.retried_task_ids.join(', ') : null],
    ['outputs', t.download_url ? `speos-portal tasks outputs ${t.task_id}` : null],
  ];
  for (const [key, value] of lines) {
    if (value !== null && value !== undefined && value !== '-') console.log(`${`${key}:`.padEnd(12)}${value}`);
  }
  if (t.error_detail) {
    // Usually the tail of the solver's log: its last lines, indented under the heading.
    const lines = t.error_detail.trimEnd().split('\n');
    const shown = lines.slice(-ERROR_LINES);
    console.log(
      lines.length > shown.length
        ? `error (last ${shown.length} lines; all of it: speos-portal tasks logs ${t.task_id}):`
        : 'error:',
    );
    for (const line of shown) console.log(`  ${line}`);
  }
  if (t.status_history.length > 0) {
    console.log('history:');
    for (const h of t.status_history)
      console.log(`  ${formatTime(h.at)}  ${h.status}${h.message ? `  ${say(h.message, h.code, h.params)}` : ''}`);
  }
}
