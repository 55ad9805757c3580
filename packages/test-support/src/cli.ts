/**
 * Runs the CLI as a child process, as a user would: the built `packages/cli/dist/bin.js`, or the
 * form named by `SPEOS_CLI_UNDER_TEST` (an installed tarball's `bin/speos-portal.mjs`, a single
 * executable): scripts/test-cli-dist.mjs runs the upload and tasks tests against each.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = process.env.SPEOS_CLI_UNDER_TEST || fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));

/** A standalone form (tarball, executable) has no server side: `serve`/`worker` only say so. */
export const STANDALONE = Boolean(process.env.SPEOS_CLI_UNDER_TEST);

/** Program and leading arguments that start the CLI: scripts run with this Node, executables as they are. */
export const CLI_COMMAND: [string, ...string[]] = /\.(c|m)?js$/.test(BIN) ? [process.execPath, BIN] : [BIN];

export interface CliRun {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The CLI as a child; `input` is its standard input (else none). Its config file defaults to
 * one that does not exist, so a developer's own `speos-portal login` never leaks into tests.
 */
export function startCli(args: string[], env: Record<string, string> = {}, input?: string): CliRun {
  const child = spawn(CLI_COMMAND[0], [...CLI_COMMAND.slice(1), ...args], {
    env: {
      ...process.env,
      SPEOS_PORTAL_URL: '',
      SPEOS_PORTAL_TOKEN: '',
      SPEOS_PORTAL_CONFIG: '/nonexistent/speos-portal-test/config.json',
      ...env,
    },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (input !== undefined) child.stdin?.end(input);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/**
 * Runs the CLI to its end. A run that outlives `timeoutMs` is killed and the test fails with what
 * it printed so far, so a hang in CI says where it hung instead of only "Test timed out".
 */
export async function runCli(args: string[], env: Record<string, string> = {}, input?: string, timeoutMs = 45_000) {
  const run = startCli(args, env, input);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), timeoutMs);
  const { code, signal } = await run.exited.finally(() => clearTimeout(timer));
  if (signal === 'SIGKILL') {
    throw new Error(
      `speos-portal ${args.join(' ')} was still running after ${timeoutMs} ms\n--- stderr ---\n${run.stderr()}\n--- stdout ---\n${run.stdout()}`,
    );
  }
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** The saved upload states in a state dir (what the CLI wrote after each part). */
export async function savedStates(dir: string): Promise<{ task_id: string; uploaded_parts: [number, string][] }[]> {
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const states = [];
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    try {
      states.push(JSON.parse(await readFile(path.join(dir, name), 'utf8')));
    } catch {}
  }
  return states;
}

/** Polls until `predicate` holds (or throws after `ms`). */
export async function waitFor(predicate: () => Promise<boolean> | boolean, ms = 30_000, what = 'condition') {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Parts recorded in the first saved state of a state dir (0 when there is none yet). */
export async function partsSaved(dir: string): Promise<number> {
  return (await savedStates(dir))[0]?.uploaded_parts.length ?? 0;
}
