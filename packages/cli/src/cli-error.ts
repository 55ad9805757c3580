/** An error the CLI reports as one line and an exit code (1 = failed, 2 = usage). */
export class CliError extends Error {
  readonly exitCode: number;
  /** Printed after the line, for mistakes in how the command was called. */
  readonly usage: string | undefined;
  constructor(message: string, exitCode = 1, usage?: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
    this.usage = usage;
  }
}

/** One line, whatever the error: the reason a person can act on. */
export function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\s*\n\s*/g, ' ').trim();
}
