#!/usr/bin/env node
/** `speos-portal` — serve the portal, run SPEOS jobs, upload jobs, follow and manage tasks. */
import { CliError, oneLine } from './cli-error.js';

const USAGE = `Usage: speos-portal <command>

Commands:
  serve                          start the portal (configuration from environment variables; see README)
  worker                         run SPEOS jobs from the portal's queue (on a machine with the solver)
  login [--with-token]           sign this computer in (saves a personal API token)
  logout                         revoke that token and forget it
  upload FILE --job-name NAME    upload a SPEOS model (resumable) and submit the job
  tasks list | show ID           list tasks, show one (status, progress, history)
  tasks logs ID [--follow]       the solver's console output, optionally until the task ends
  tasks stop | retry | delete ID stop a task, run it again, delete it
  tasks outputs ID [--download DIR] [--zip FILE]
                                 list a run's result files, download them
  workers                        the workers that run jobs, and whether any is online
  admin assign-owner --owner WHO (--unowned | TASK_ID...)
                                 give tasks from before sign-in was on to a person

Options:
  -h, --help     show this help
  -v, --version  show the version

Run "speos-portal <command> --help" for a command's options.`;

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

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    console.log(USAGE);
    return;
  }
  if (command === '-v' || command === '--version') {
    const { VERSION } = await import('@speos-portal/server');
    console.log(VERSION);
    return;
  }
  if (command === 'serve') {
    if (rest.includes('-h') || rest.includes('--help')) {
      console.log(
        'Usage: speos-portal serve\n\nStarts the portal. Configure it with PORT, HOST, DATA_DIR, PUBLIC_URL… (README).',
      );
      return;
    }
    if (rest.length > 0) {
      console.error(`speos-portal serve: unexpected argument "${rest[0]}"; configure with environment variables.`);
      process.exit(2);
    }
    // Imported on demand: upload and tasks should not pay for loading the whole server.
    const { serve } = await import('@speos-portal/server');
    await serve();
    return;
  }
  if (command === 'worker') {
    if (rest.includes('-h') || rest.includes('--help')) {
      console.log(WORKER_USAGE);
      return;
    }
    if (rest.length > 0) {
      console.error(`speos-portal worker: unexpected argument "${rest[0]}"; configure with environment variables.`);
      process.exit(2);
    }
    // Runs until SIGTERM or Ctrl-C; exits 2 with the reason when no solver is configured.
    const { runWorker } = await import('@speos-portal/server');
    await runWorker(process.env);
    return;
  }
  if (command === 'upload') {
    const { uploadCommand } = await import('./commands/upload.js');
    await uploadCommand(rest);
    process.exit(0); // keep-alive sockets and timers must not hold the terminal
  }
  if (command === 'login' || command === 'logout') {
    const { loginCommand, logoutCommand } = await import('./commands/login.js');
    await (command === 'login' ? loginCommand(rest) : logoutCommand(rest));
    process.exit(0); // a pending stdin read or keep-alive socket must not hold the terminal
  }
  if (command === 'admin') {
    // Operators, on the server's machine: works on the database (DATABASE_URL / DATA_DIR).
    const { runAdmin } = await import('@speos-portal/server');
    process.exit(await runAdmin(rest, process.env));
  }
  if (command === 'workers') {
    const { workersCommand } = await import('./commands/workers.js');
    await workersCommand(rest);
    return;
  }
  if (command === 'tasks') {
    const { tasksCommand } = await import('./commands/tasks.js');
    await tasksCommand(rest);
    return;
  }
  console.error(`speos-portal: unknown command "${command}"\n\n${USAGE}`);
  process.exit(2);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const prefix = ['upload', 'tasks', 'worker', 'workers', 'login', 'logout'].includes(process.argv[2] ?? '')
    ? `speos-portal ${process.argv[2]}`
    : 'speos-portal';
  console.error(`${prefix}: ${oneLine(error)}`);
  if (error instanceof CliError && error.usage) console.error(`\n${error.usage}`);
  process.exit(error instanceof CliError ? error.exitCode : 1);
});
