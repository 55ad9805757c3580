/**
 * `serve` and `worker` are the portal server's (packages/server), which this CLI does not depend
 * on: a workstation never installs Fastify, the database drivers or the AWS SDK. In a checkout of
 * the repository the server package sits beside the CLI and these commands are handed to it.
 */
import { CliError } from './cli-error.js';

export interface ServerSide {
  runServerCommand(argv: string[]): Promise<void>;
}

/** Set by scripts/package-cli.mjs in the standalone forms (tarball, executables). */
declare const SPEOS_PORTAL_STANDALONE: boolean | undefined;

const SERVER_PACKAGE = '@speos-portal/server';

export async function loadServerSide(command: string): Promise<ServerSide> {
  const standalone = typeof SPEOS_PORTAL_STANDALONE !== 'undefined' && SPEOS_PORTAL_STANDALONE;
  if (!standalone) {
    try {
      // Variable specifiers: neither tsc nor a bundler pulls the server into the CLI. The first
      // keeps the server's heap lean and must run before its modules load (its src/lean-heap.ts).
      await import(`${SERVER_PACKAGE}/lean-heap`);
      return (await import(SERVER_PACKAGE)) as ServerSide;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ERR_MODULE_NOT_FOUND' || !String((error as Error).message).includes(SERVER_PACKAGE)) throw error;
    }
  }
  throw new CliError(
    'this command belongs to the portal server, which is not installed with this command-line tool; ' +
      `run it where the portal is installed (in a checkout of it: npx speos-portal-server ${command})`,
    2,
  );
}
