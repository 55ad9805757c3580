#!/usr/bin/env node
/** `speos-portal` — serve the portal, upload jobs, list and show tasks. */
import { CliError, oneLine } from './cli-error.js';

const USAGE = `Usage: speos-portal <command>

Commands:
  serve                          start the portal (configuration from environment variables; see README)
  upload FILE --job-name NAME    upload a SPEOS model (resumable) and submit the job
  tasks list | tasks show ID     list tasks, show one task

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
  if (command === 'upload') {
    const { uploadCommand } = await import('./commands/upload.js');
    await uploadCommand(rest);
    process.exit(0); // keep-alive sockets and timers must not hold the terminal
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
  const prefix =
    process.argv[2] === 'upload' || process.argv[2] === 'tasks' ? `speos-portal ${process.argv[2]}` : 'speos-portal';
  console.error(`${prefix}: ${oneLine(error)}`);
  process.exit(error instanceof CliError ? error.exitCode : 1);
});
