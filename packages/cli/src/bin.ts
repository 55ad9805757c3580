#!/usr/bin/env node
/**
 * `speos-portal` — upload jobs, follow and manage tasks. `serve` and `worker` belong to the server
 * side (packages/server, `speos-portal-server`) and run here only when it is installed beside the CLI.
 */
import { CliError, oneLine } from './cli-error.js';
import { loadServerSide } from './server-side.js';
import { VERSION } from './version.js';

const USAGE = `Usage: speos-portal <command>

Commands:
  login [--with-token]           sign this computer in (saves a personal API token)
  logout                         revoke that token and forget it
  upload FILE --job-name NAME    upload a SPEOS model (resumable) and submit the job
  tasks list | show ID           list tasks, show one (status, progress, history)
  tasks logs ID [--follow]       the solver's console output, optionally until the task ends
  tasks stop | retry | delete ID stop a task, run it again, delete it
  tasks outputs ID [--download DIR] [--zip FILE]
                                 list a run's result files, download them
  workers                        the workers that run jobs, and whether any is online
  admin usage [--mine]           stored bytes per user against the quota (admins)

Server side (only where the portal itself is installed, e.g. a checkout of it):
  serve                          start the portal (configuration from environment variables; see README)
  worker                         run SPEOS jobs from the portal's queue (on a machine with the solver)
  admin assign-owner --owner WHO (--unowned | TASK_ID...)
                                 give tasks from before sign-in was on to a person

Options:
  -h, --help     show this help
  -v, --version  show the version

Run "speos-portal <command> --help" for a command's options.`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    console.log(USAGE);
    return;
  }
  if (command === '-v' || command === '--version') {
    console.log(VERSION);
    return;
  }
  if (command === 'serve' || command === 'worker') {
    const { runServerCommand } = await loadServerSide(command);
    await runServerCommand([command, ...rest]);
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
    // assign-owner works on the server's database: the server side's, like serve and worker.
    if (rest[0] === 'assign-owner') {
      const { runServerCommand } = await loadServerSide('admin assign-owner');
      await runServerCommand([command, ...rest]);
      return;
    }
    const { adminCommand } = await import('./commands/admin.js');
    await adminCommand(rest);
    return;
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
  const prefix = ['upload', 'tasks', 'serve', 'worker', 'workers', 'login', 'logout'].includes(process.argv[2] ?? '')
    ? `speos-portal ${process.argv[2]}`
    : 'speos-portal';
  console.error(`${prefix}: ${oneLine(error)}`);
  if (error instanceof CliError && error.usage) console.error(`\n${error.usage}`);
  process.exit(error instanceof CliError ? error.exitCode : 1);
});
