/** Runs the portal until SIGTERM/SIGINT, then lets in-flight requests (part PUTs) finish. */
import type { FastifyInstance } from 'fastify';
import { createPortal } from './app.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { loadWorkerConfig } from './worker/config.js';

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function startServer(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<RunningServer> {
  const { app } = await createPortal(config, { worker: loadWorkerConfig(env, config.dataDir) });
  const address = await app.listen({ port: config.port, host: config.host });
  app.log.info(
    { data_dir: config.dataDir, public_url: config.publicUrl },
    `speos-portal listening on ${address}, docs at ${address}/docs`,
  );
  return { app, url: address, close: () => app.close() };
}

/**
 * The `serve` command: start, and on a signal stop accepting, finish what is in flight
 * (bounded by SHUTDOWN_GRACE_SECONDS), then exit. A second signal exits at once.
 */
export async function serve(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`speos-portal: bad configuration: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  let server: RunningServer;
  try {
    server = await startServer(config, env);
  } catch (error) {
    const err = error as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE')
      console.error(`speos-portal: port ${config.port} is in use; set PORT to another one.`);
    else if (err.code === 'EACCES')
      console.error(`speos-portal: no permission for ${config.host}:${config.port} or ${config.dataDir}.`);
    else if (error instanceof ConfigError) console.error(`speos-portal: bad configuration: ${error.message}`);
    else console.error(`speos-portal: could not start: ${err.message}`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    server.app.log.info({ signal }, 'shutting down: finishing requests in flight');
    const timer = setTimeout(() => {
      server.app.log.warn('grace period over; exiting with requests still open');
      process.exit(1);
    }, config.shutdownGraceSeconds * 1000);
    timer.unref();
    server.close().then(
      () => process.exit(0),
      (error) => {
        server.app.log.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Last resort for a promise nobody awaited (a background task's bug): log it and keep
  // serving, instead of Node's default of ending the process and every upload in flight.
  process.on('unhandledRejection', (reason) => {
    server.app.log.error({ err: reason }, 'unhandled promise rejection; the server keeps running');
  });
}
