/**
 * What every `speos-portal tasks` subcommand gets: the parsed options and a connection.
 * Its own module so the subcommands (task-logs.ts, task-outputs.ts) and tasks.ts, which
 * loads them, do not import each other.
 */
import type { parseArgs } from 'node:util';
import type { PortalClient } from '@speos-portal/client';

export const OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  status: { type: 'string' },
  submitter: { type: 'string' },
  q: { type: 'string' },
  page: { type: 'string' },
  'page-size': { type: 'string' },
  follow: { type: 'boolean', short: 'f' },
  'display-name': { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  download: { type: 'string' },
  zip: { type: 'string' },
  json: { type: 'boolean' },
  lang: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type Values = ReturnType<
  typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true }>
>['values'];

export interface TaskContext {
  api: PortalClient;
  values: Values;
  /** For reads (and retry, which carries an Idempotency-Key): retried briefly on network trouble and 5xx. */
  read<T>(fn: (signal?: AbortSignal) => Promise<T>): Promise<T>;
  /** For other changes: one attempt. */
  change<T>(fn: () => Promise<T>): Promise<T>;
}
