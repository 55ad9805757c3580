/**
 * The one logger of every server-side process (API server, in-process and standalone
 * worker, expiry sweep): pino JSON lines on stdout at LOG_LEVEL, with a numeric `level`,
 * and `request_id` or `task_id` on each line that concerns one.
 */
import { type BaseLogger, pino } from 'pino';

/**
 * What the server's parts need of a logger: the level methods. A Fastify logger
 * (`app.log`, `request.log`) is one, so is every pino logger and child.
 */
export type Logger = Pick<BaseLogger, 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'>;

/** JSON lines on stdout at `level`; `bindings` go on every line (e.g. `{component: 'worker'}`). */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): pino.Logger {
  const logger = pino({ level });
  return Object.keys(bindings).length > 0 ? logger.child(bindings) : logger;
}

/** For parts built without a logger (tests, tools): drops every line. */
export const silentLogger: Logger = pino({ level: 'silent' });
