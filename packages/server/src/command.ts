/**
 * `speos-portal-server serve | worker | admin assign-owner`: the server side's command line (bin/speos-portal-server.js).
 * The workstation CLI (packages/cli) hands `speos-portal serve` and `speos-portal worker` to
 * `runServerCommand` when this package is installed beside it, as in a checkout of the repository.
 */
import { VERSION } from './app.js';

export const SERVER_USAGE = `Usage: speos-portal-server <command>

Commands:
  serve    start the portal (configuration from environment variables; see README)
  worker   run SPEOS jobs from the portal's queue (on a machine with the solver)
  admin assign-owner --owner WHO (--unowned | TASK_ID...)
           give tasks from before sign-in was on to a person (the server's database)

Options:
  -h, --help     show this help
  -v, --version  show the version`;

const SERVE_USAGE =
  'Usage: speos-portal serve\n\nStarts the portal. Configure it with PORT, HOST, DATA_DIR, PUBLIC_URL… (README).';

const WORKER_USAGE = `Usage: speos-portal worker

Runs SPEOS jobs: takes PENDING tasks from the portal's database, runs the solver, and
stores its console log, progress and result files, until SIGTERM or Ctrl-C (tasks it was
running then go back to the queue). Start one on every machine with a solver licence.
Configured only by environment variables:

  SPEOS_COMMAND_<VERSION>  how to start the solver for one SPEOS version, e.g.
                           SPEOS_COMMAND_V252='/opt/ansys_inc/v252/optical/SPEOSHPC.x {master} -t {thread_count} -p {priority}'
                           (SPEOS_COMMAND serves every version; at least one is required;
                           placeholders are listed in the README, "Running SPEOS jobs")
  WORKER_SLOTS             tasks run at once on this machine (default 1)
  WORKER_LEASE_SECONDS     a task whose worker has been silent this long is handed to
                           another worker (default 30)
  DATABASE_URL, DATA_DIR   must be the server's: the worker reads the queue from the same
                           database (PostgreSQL to share across machines) and
  STORAGE, S3_*            the inputs and outputs from the same storage
  WORKER_DIR               where runs are unpacked (default DATA_DIR/work)`;

/**
 * Runs `serve` or `worker` (they run until a signal ends the process), or prints help or the
 * version. Usage errors print one line and exit 2.
 */
export async function runServerCommand(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    console.log(SERVER_USAGE);
    return;
  }
  if (command === '-v' || command === '--version') {
    console.log(VERSION);
    return;
  }
  if (command === 'admin') {
    // Works on the database the server uses (DATABASE_URL / DATA_DIR): exit 0, or 2 on a usage mistake.
    const { runAdmin } = await import('./admin/assign-owner.js');
    const code = await runAdmin(rest, process.env);
    if (code !== 0) process.exit(code);
    return;
  }
  if (command !== 'serve' && command !== 'worker') {
    console.error(`speos-portal-server: unknown command "${command}"\n\n${SERVER_USAGE}`);
    process.exit(2);
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    console.log(command === 'serve' ? SERVE_USAGE : WORKER_USAGE);
    return;
  }
  if (rest.length > 0) {
    console.error(`speos-portal ${command}: unexpected argument "${rest[0]}"; configure with environment variables.`);
    process.exit(2);
  }
  if (command === 'serve') {
    const { serve } = await import('./server.js');
    await serve();
    return;
  }
  // Runs until SIGTERM or Ctrl-C; exits 2 with the reason when no solver is configured.
  const { runWorker } = await import('./worker/main.js');
  await runWorker(process.env);
}
