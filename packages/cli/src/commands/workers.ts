/** `speos-portal workers`: who runs SPEOS jobs, so a queue that will never move is seen at once. */
import { parseArgs } from 'node:util';
import type { WorkerListResponse } from '@speos-portal/protocol';
import { CliError } from '../cli-error.js';
import { connect, quickRead } from '../connection.js';
import { formatTime } from '../format.js';
import { argumentError } from './arg-errors.js';
import { formatTable } from './table.js';

export const WORKERS_USAGE = `Usage: speos-portal workers [--json]

Lists the workers that run SPEOS jobs: id, host, SPEOS versions, running tasks and slots,
last heartbeat, online or not. Without an online worker, submitted jobs wait.

Options:
  --json         print the server's answer as JSON
  --server URL   portal URL (env SPEOS_PORTAL_URL, default http://localhost:8000)
  --token T      bearer token (env SPEOS_PORTAL_TOKEN)
  -h, --help     show this help`;

const OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function workersCommand(argv: string[]): Promise<void> {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw argumentError(error, WORKERS_USAGE);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(WORKERS_USAGE);
    return;
  }
  if (positionals.length > 0) throw new CliError(`unexpected argument "${positionals[0]}"`, 2);
  const api = await connect(values);
  const list = await quickRead(api, (signal) => api.listWorkers(signal));
  if (values.json) {
    console.log(JSON.stringify(list));
    return;
  }
  console.log(describeWorkers(list));
}

/** The table, then one line that says whether jobs will run. */
export function describeWorkers(list: WorkerListResponse): string {
  const lines: string[] = [];
  if (list.items.length > 0) {
    const rows = [
      ['WORKER', 'HOST', 'VERSIONS', 'RUNNING', 'LAST HEARTBEAT (UTC)', 'STATE'],
      ...list.items.map((w) => [
        w.worker_id,
        w.host,
        w.versions.includes('*') ? 'all' : w.versions.join(','),
        `${w.running_tasks}/${w.slots}`,
        formatTime(w.last_heartbeat),
        w.online ? 'online' : 'offline',
      ]),
    ];
    lines.push(...formatTable(rows));
  }
  lines.push(
    list.online === 0
      ? 'No worker is online: submitted jobs wait until one starts (README, "Running SPEOS jobs").'
      : `${list.online} worker${list.online === 1 ? '' : 's'} online`,
  );
  return lines.join('\n');
}
