#!/usr/bin/env node
/** `speos-portal` — serve the portal (upload and tasks commands arrive with the client SDK). */
import { serve } from '@speos-portal/server';

const USAGE = `Usage: speos-portal <command>

Commands:
  serve     start the portal (configuration from environment variables; see README)

Options:
  -h, --help     show this help
  -v, --version  show the version`;

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
    await serve();
    return;
  }
  console.error(`speos-portal: unknown command "${command}"\n\n${USAGE}`);
  process.exit(2);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`speos-portal: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
