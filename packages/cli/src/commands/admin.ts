/** `speos-portal admin usage`: stored bytes per user against the quota (admins; anyone with auth off). */
import { parseArgs } from 'node:util';
import { CliError } from '../cli-error.js';
import { connect, quickRead } from '../connection.js';
import { formatBytes } from '../format.js';
import { argumentError } from './arg-errors.js';

export const ADMIN_USAGE = `Usage: speos-portal admin <subcommand> [options]

  usage          stored bytes per user (uploads, unfinished ones too, and results),
                 largest first, against USER_QUOTA_BYTES; and your own with --mine

Options:
  --mine         only your own usage (GET /usage; any user may ask)
  --json         print the server's answer as JSON
  --server URL   portal URL (env SPEOS_PORTAL_URL, default http://localhost:8000)
  --token T      bearer token of an admin (env SPEOS_PORTAL_TOKEN)
  -h, --help     show this help`;

const OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  mine: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function adminCommand(argv: string[]): Promise<void> {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw argumentError(error, ADMIN_USAGE);
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    console.log(ADMIN_USAGE);
    return;
  }
  if (positionals[0] !== 'usage' || positionals.length > 1) {
    throw new CliError(`unknown admin subcommand "${positionals.join(' ')}"; use: usage`, 2);
  }
  const api = await connect(values);
  const read = <T>(fn: (signal?: AbortSignal) => Promise<T>) => quickRead(api, fn);
  const quotaText = (quota: number | null) => (quota === null ? 'no quota' : `quota ${formatBytes(quota)} each`);
  if (values.mine) {
    const mine = await read((signal) => api.usage(signal));
    if (values.json) return console.log(JSON.stringify(mine));
    const share = mine.quota_bytes ? ` (${Math.round((100 * mine.used_bytes) / mine.quota_bytes)} %)` : '';
    console.log(
      `${formatBytes(mine.used_bytes)} stored${mine.quota_bytes === null ? ' (no quota)' : ` of ${formatBytes(mine.quota_bytes)}${share}`}`,
    );
    return;
  }
  const all = await read((signal) => api.usageByUser(signal));
  if (values.json) return console.log(JSON.stringify(all));
  const rows = all.users.map((u) => [
    u.name ?? u.owner ?? '(auth off)',
    u.email ?? '',
    formatBytes(u.used_bytes),
    all.quota_bytes ? `${Math.round((100 * u.used_bytes) / all.quota_bytes)} %` : '',
  ]);
  const header = ['USER', 'EMAIL', 'STORED', 'OF QUOTA'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows])
    console.log(
      row
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    );
  console.log(
    `${all.users.length} user${all.users.length === 1 ? '' : 's'}; ${formatBytes(all.total_bytes)} stored in all; ${quotaText(all.quota_bytes)}`,
  );
}
