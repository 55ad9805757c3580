/**
 * Real portals for tests: a real Fastify server on a real port, real SQLite and real
 * files in a fresh temporary data directory. Nothing is mocked.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Clock, createPortal, type Db, loadConfig, loadWorkerConfig } from '@speos-portal/server';
import type { FastifyInstance } from 'fastify';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function tempDir(prefix = 'speos-test-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

export interface TestPortal {
  url: string;
  dataDir: string;
  app: FastifyInstance;
  /** The portal's database, for tests that check what was stored. */
  db: Db;
  close(): Promise<void>;
}

/**
 * Starts a portal in this process. `env` overrides the configuration variables; `port` and
 * `dataDir` let a test start it again where an earlier one was (a restart).
 */
export async function startTestPortal(
  env: Record<string, string> = {},
  options: {
    clock?: Clock;
    dataDir?: string;
    port?: number;
    /** How a port is chosen when none is given (a test of the retry below replaces it). */
    choosePort?: () => Promise<number>;
  } = {},
): Promise<TestPortal> {
  const dataDir = options.dataDir ?? (await tempDir());
  return onFreePort(options.port, options.choosePort ?? freePort, async (port) => {
    const config = loadConfig({ PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env });
    // SPEOS_COMMAND_* in env starts an in-process worker, as `serve` does.
    const worker = loadWorkerConfig({ WORKER_POLL_SECONDS: '0.2', ...env }, dataDir);
    const { app, db } = await createPortal(config, { worker, ...(options.clock ? { clock: options.clock } : {}) });
    try {
      await app.listen({ port, host: '127.0.0.1' });
    } catch (error) {
      await app.close();
      throw error;
    }
    return portalOn(port, dataDir, app, db, options.dataDir === undefined);
  });
}

const PORT_ATTEMPTS = 5;

/**
 * Runs `start` on `given`, else on a chosen free port. A portal must know its port before it
 * is built (PUBLIC_URL goes into upload URLs, the CSP and the origin check), so it cannot
 * simply listen on port 0; in the rare case another process takes the chosen port before
 * `start` listens (EADDRINUSE), another one is chosen. A port given by the test (a restart,
 * an OpenID provider's registered URL) is kept.
 */
async function onFreePort<T>(
  given: number | undefined,
  choose: () => Promise<number>,
  start: (port: number) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(given ?? (await choose()));
    } catch (error) {
      const taken = (error as NodeJS.ErrnoException)?.code === 'EADDRINUSE';
      if (!taken || given !== undefined || attempt >= PORT_ATTEMPTS) throw error;
    }
  }
}

function portalOn(port: number, dataDir: string, app: FastifyInstance, db: Db, ownsDataDir: boolean): TestPortal {
  return {
    url: `http://127.0.0.1:${port}`,
    dataDir,
    app,
    db,
    async close() {
      // A test's client may keep connections open (keep-alive, a stalled PUT): give
      // requests a moment to finish, then cut what is left rather than hang the suite.
      const timer = setTimeout(() => app.server.closeAllConnections(), 1000);
      await app.close();
      clearTimeout(timer);
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export const CLI = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));
/** The server package's own command (`speos-portal-server`), as `npx speos-portal-server` runs it. */
export const SERVER_BIN = fileURLToPath(new URL('../../server/bin/speos-portal-server.js', import.meta.url));

export interface PortalProcess {
  url: string;
  child: ChildProcess;
  /** Output so far, for failure messages. */
  output(): string;
  /** Resolves with the exit code or signal. */
  exited: Promise<number | string>;
}

/**
 * Starts `speos-portal serve` (the built CLI; or `speos-portal-server serve` with `SERVER_BIN`)
 * as a child process, for tests that kill it. Needs `npm run build` first (`npm test` does it).
 */
export async function spawnPortal(
  dataDir: string,
  env: Record<string, string> = {},
  port?: number,
  program = CLI,
): Promise<PortalProcess> {
  return onFreePort(port, freePort, async (chosen) => {
    const serve = startServe(program, { PORT: String(chosen), DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env });
    const url = `http://127.0.0.1:${chosen}`;
    const deadline = Date.now() + 60_000; // a loaded CI machine can take long to start Node
    for (;;) {
      if (serve.child.exitCode !== null) {
        const error: NodeJS.ErrnoException = new Error(`portal exited early: ${serve.output()}`);
        if (serve.output().includes('EADDRINUSE')) error.code = 'EADDRINUSE';
        throw error;
      }
      try {
        const res = await fetch(`${url}/healthz`);
        if (res.ok) break;
      } catch {}
      if (Date.now() > deadline) throw new Error(`portal did not start: ${serve.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return { url, ...serve };
  });
}

/**
 * Starts `<program> serve` (`CLI` or `SERVER_BIN`) with `env` on top of this process's, and
 * collects its output; does not wait for it to answer (for tests of how it fails to start).
 */
export function startServe(
  program: string,
  env: Record<string, string>,
): Pick<PortalProcess, 'child' | 'output' | 'exited'> {
  const child = spawn(process.execPath, [program, 'serve'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => {
    output += d;
  });
  child.stderr?.on('data', (d) => {
    output += d;
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return { child, output: () => output, exited };
}

export const md5 = (data: Buffer | Uint8Array) => createHash('md5').update(data).digest('hex');
