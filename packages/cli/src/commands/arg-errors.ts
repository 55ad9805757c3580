/**
 * Node's parseArgs errors as one clear line plus the command's usage. Its own messages are
 * long, change between Node versions and, cut at the first sentence, leave an unbalanced
 * quote ("… as in '-- \"--foo\"").
 */
import { CliError } from '../cli-error.js';

export function argumentError(error: unknown, usage: string): CliError {
  const { code, message } = error as { code?: string; message?: string };
  const quoted = /'([^']+)'/.exec(message ?? '')?.[1]?.replace(/ <value>$/, '');
  let line: string;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) line = `unknown option ${quoted}`;
  else if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && quoted && /does not take/.test(message ?? '')) {
    line = `${quoted} does not take a value`;
  } else if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && quoted) line = `${quoted} needs a value`;
  else if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && quoted) line = `unexpected argument "${quoted}"`;
  else line = (message ?? String(error)).split(/\.\s|\n/)[0]!;
  return new CliError(line, 2, usage);
}
