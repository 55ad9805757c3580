/**
 * `speos-portal tasks logs TASK_ID [--follow]`: the solver's console output. With --follow it
 * polls from `next_offset` about once a second until the server says the log is finished,
 * then exits with the task's outcome: 0 for SUCCESS, 1 for anything else.
 */
import { withRetry } from '@speos-portal/client';
import type { LogResponse } from '@speos-portal/protocol';
import { CliError, oneLine } from '../cli-error.js';
import { explain, watchServer } from '../connection.js';
import type { TaskContext } from './task-context.js';

const POLL_MS = 1000;

export async function logsCommand({ api, values, read }: TaskContext, id: string): Promise<void> {
  const follow = values.follow === true;
  const json = values.json === true;
  // Ctrl-C is how one stops watching a log: exit 130 without a word.
  const onInterrupt = () => process.exit(130);
  process.on('SIGINT', onInterrupt);
  // `… | head` closing the pipe early is not a failure either.
  const onStdoutError = (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    process.stderr.write(`speos-portal tasks: cannot write the log: ${error.message}\n`);
    process.exit(1);
  };
  process.stdout.on('error', onStdoutError);
  // Following may outlast a server restart: the default, patient retry policy (an unreachable
  // server is waited for 10 minutes), saying on stderr when it waits and when it goes on.
  const watch = follow ? watchServer(api, (line) => process.stderr.write(`${line}\n`), false) : undefined;
  const poll = follow
    ? <T>(fn: (signal?: AbortSignal) => Promise<T>) =>
        withRetry(fn, watch ? { watch } : {}).catch((error: unknown) => {
          throw explain(api, error);
        })
    : read;

  try {
    let offset = 0;
    let endsWithNewline = true;
    for (;;) {
      const chunk: LogResponse = await poll((signal) => api.getLogs(id, { offset }, signal));
      const caughtUp = chunk.next_offset >= chunk.size;
      const last = chunk.finished || (caughtUp && !follow);
      if (json) {
        if (chunk.content !== '' || last) console.log(JSON.stringify(chunk));
      } else if (chunk.content !== '') {
        process.stdout.write(chunk.content);
        endsWithNewline = chunk.content.endsWith('\n');
      }
      if (!caughtUp && chunk.next_offset <= offset) {
        throw new CliError(`the server sent no log bytes from offset ${offset} of ${chunk.size}`);
      }
      offset = chunk.next_offset;
      if (last) break;
      if (caughtUp) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    if (!follow) return;
    if (!json && !endsWithNewline) process.stdout.write('\n');
    const task = await poll((signal) => api.getTask(id, signal));
    const ok = task.status === 'SUCCESS';
    const why = !ok && task.message ? ` (${oneLine(task.message)})` : '';
    process.stderr.write(`task ${id}: ${task.status}${task.duration ? ` after ${task.duration}` : ''}${why}\n`);
    if (!ok) process.exitCode = 1;
  } finally {
    process.off('SIGINT', onInterrupt);
    process.stdout.off('error', onStdoutError);
  }
}
