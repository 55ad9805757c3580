/**
 * The solver never outlives its worker. It is started through a small watchdog process
 * that leads the solver's process group and holds a pipe from the worker on its stdin.
 * However the worker ends — exit, crash, `kill -9`, OOM killer — the kernel closes the
 * worker's end of that pipe; the watchdog sees end-of-file and terminates the whole group
 * (SIGTERM, then SIGKILL after the grace period). While the worker lives the watchdog is
 * invisible: the solver writes straight to the worker's pipes, and the watchdog exits
 * with the solver's exit code or signal.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

// Inline (node -e) so the same code runs from src/ under Vitest and from dist/.
// argv: grace in ms, then the solver's argv.
const WATCHDOG_SOURCE = `
const { spawn } = require('node:child_process');
const { writeSync } = require('node:fs');
const [grace, command, ...args] = process.argv.slice(1);
process.stderr.on('error', () => {});
// Fd 3 tells the worker (not the task's log) whether the solver started.
const tell = (message) => { try { writeSync(3, JSON.stringify(message) + '\\n'); } catch {} };
// A stop signals the whole group: the solver handles it; the watchdog waits for the solver.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, () => {});
let orphaned = false;
const killGroup = (signal) => { try { process.kill(-process.pid, signal); } catch {} };
const solver = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
solver.on('spawn', () => tell({ started: solver.pid }));
solver.on('error', (error) => {
  tell({ error: error.message });
  process.exit(127);
});
solver.on('exit', (code, signal) => {
  // Without a worker nobody will clean up: take the solver's children down too.
  if (orphaned) killGroup('SIGKILL');
  if (signal) {
    for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.removeAllListeners(s);
    process.kill(process.pid, signal);
  } else process.exit(code ?? 1);
});
const workerGone = () => {
  if (orphaned) return;
  orphaned = true;
  killGroup('SIGTERM');
  setTimeout(() => killGroup('SIGKILL'), Number(grace));
};
process.stdin.on('end', workerGone);
process.stdin.on('error', workerGone);
process.stdin.on('close', workerGone);
process.stdin.resume();
`;

export type SupervisedSolver = ChildProcessByStdio<Writable, Readable, Readable>;

export interface Supervised {
  /** The watchdog; its pid is the process group id. Its stdout and stderr are the solver's. */
  child: SupervisedSolver;
  /** The solver's pid once it runs, or why it could not start (for the worker's log only). */
  started: Promise<{ pid: number } | { error: string }>;
}

/**
 * Starts `argv` under a watchdog in a new process group (the watchdog's pid is the group
 * id). Keep the returned process's stdin open for as long as the solver may run.
 */
export function spawnSupervised(argv: string[], options: { cwd: string; graceMs: number }): Supervised {
  const child = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, '--', String(options.graceMs), ...argv], {
    cwd: options.cwd,
    detached: true, // its own process group: stop signals reach the solver's children too
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    shell: false,
  }) as unknown as SupervisedSolver;
  // The pipe is a lifeline, never written: a watchdog gone first must not raise EPIPE here.
  child.stdin.on('error', () => {});
  const status = child.stdio[3] as Readable;
  const started = new Promise<{ pid: number } | { error: string }>((resolve) => {
    let text = '';
    status.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n')[0];
      if (text.includes('\n') && line) {
        const message = JSON.parse(line) as { started?: number; error?: string };
        resolve(message.started ? { pid: message.started } : { error: message.error ?? 'unknown' });
      }
    });
    status.on('error', () => {});
    child.once('error', (error) => resolve({ error: `the watchdog did not start: ${error.message}` }));
    child.once('exit', (code, signal) => resolve({ error: `the watchdog ended (${signal ?? code})` }));
  });
  return { child, started };
}
