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
  options: { clock?: Clock; dataDir?: string; port?: number } = {},
): Promise<TestPortal> {
  const dataDir = options.dataDir ?? (await tempDir());
  // A port chosen beforehand lets a test register the portal's URL with an OpenID provider first.
  const port = options.port ?? (await freePort());
  const config = loadConfig({ PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env });
  // SPEOS_COMMAND_* in env starts an in-process worker, as `serve` does.
  const worker = loadWorkerConfig({ WORKER_POLL_SECONDS: '0.2', ...env }, dataDir);
  const { app, db } = await createPortal(config, { worker, ...(options.clock ? { clock: options.clock } : {}) });
  await app.listen({ port, host: '127.0.0.1' });
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
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

const CLI = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));
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
  const chosen = port ?? (await freePort());
  const child = spawn(process.execPath, [program, 'serve'], {
    env: { ...process.env, PORT: String(chosen), DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env },
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
  const url = `http://127.0.0.1:${chosen}`;
  const deadline = Date.now() + 60_000; // a loaded CI machine can take long to start Node
  for (;;) {
    if (child.exitCode !== null) throw new Error(`portal exited early: ${output}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`portal did not start: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, child, output: () => output, exited };
}

export const md5 = (data: Buffer | Uint8Array) => createHash('md5').update(data).digest('hex');
