/**
 * "The database cannot be reached" as opposed to every other database error, and one
 * record per process of whether it is reachable now and since when. Every query of a Db
 * opened by connect.ts reports here (observeDialect), so the API's 503s, the once-per-outage
 * log lines and the worker's lost-lease rule all see the same outage.
 */
import type { DatabaseConnection, Dialect, Driver, QueryResult } from 'kysely';

/** Socket-level failures: the server is down, restarting, or the network between is. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
]);

/**
 * PostgreSQL SQLSTATEs: class 08 (connection exception), 57P01–57P03 (shutting down,
 * crashed, still starting up) and 53300 (too many connections).
 */
const POSTGRES_STATES = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/;

/** What node-postgres says when a connection dies or cannot be made in time. */
const POSTGRES_CLIENT_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/**
 * SQLite's equivalents: the file cannot be opened, stays locked past busy_timeout, or its
 * I/O fails. (SQLITE_FULL is a full disk, not an unreachable database.)
 */
const SQLITE_CODES = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR)/;

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  errors?: unknown;
  cause?: unknown;
}

/** True for errors that say the database could not be reached (not that a query was wrong). */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 3) return false;
  const e = error as ErrorLike;
  const code = typeof e.code === 'string' ? e.code : '';
  if (NETWORK_CODES.has(code) || POSTGRES_STATES.test(code) || SQLITE_CODES.test(code)) return true;
  if (typeof e.message === 'string' && POSTGRES_CLIENT_MESSAGES.test(e.message)) return true;
  // Node reports a refused connection to a name with several addresses as an AggregateError.
  if (Array.isArray(e.errors) && e.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return isDatabaseUnavailable(e.cause, depth + 1);
}

/** A short reason for logs and messages: the error code when there is one. */
export function unavailableReason(error: unknown): string {
  const e = (error ?? {}) as ErrorLike;
  if (typeof e.code === 'string' && e.code) return e.code;
  if (Array.isArray(e.errors)) {
    const inner = e.errors.find((x) => typeof (x as ErrorLike)?.code === 'string') as ErrorLike | undefined;
    if (inner) return String(inner.code);
  }
  return typeof e.message === 'string' && e.message ? e.message : String(error);
}

export interface HealthListener {
  /** The first failure after a success (or at start): once per outage. */
  down?(reason: string): void;
  /** The first success after an outage, with how long it lasted as this process saw it. */
  up?(downForMs: number): void;
}

/** Whether one backend answers, as the requests of this process saw it. */
export class BackendHealth {
  readonly name: string;
  readonly #now: () => number;
  readonly #listeners = new Set<HealthListener>();
  #downSince: number | undefined;
  #reason = '';
  /** Start of the current run of successes without a failure between; undefined before the first. */
  #upSince: number | undefined;

  constructor(name: string, now: () => number = Date.now) {
    this.name = name;
    this.#now = now;
  }

  /** True from an availability failure until the next success. */
  get down(): boolean {
    return this.#downSince !== undefined;
  }

  /** Why it is down (e.g. ECONNREFUSED); empty while up. */
  get reason(): string {
    return this.down ? this.#reason : '';
  }

  /**
   * How long it has answered without an availability failure, as far as this process saw
   * (0 while down and before the first answer).
   */
  reachableFor(now = this.#now()): number {
    return this.#downSince !== undefined || this.#upSince === undefined ? 0 : Math.max(0, now - this.#upSince);
  }

  noteSuccess(now = this.#now()): void {
    if (this.#downSince !== undefined) {
      const downFor = now - this.#downSince;
      this.#downSince = undefined;
      this.#upSince = now;
      for (const listener of this.#listeners) listener.up?.(downFor);
      return;
    }
    this.#upSince ??= now;
  }

  noteFailure(error: unknown, now = this.#now()): void {
    this.#reason = unavailableReason(error);
    if (this.#downSince !== undefined) return;
    this.#downSince = now;
    this.#upSince = undefined;
    for (const listener of this.#listeners) listener.down?.(this.#reason);
  }

  /** Subscribes; returns the unsubscribe function. */
  listen(listener: HealthListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/**
 * Reports the outcome of every connection and query of `dialect` to `health`: connection
 * failures as failures, any answer (even an error such as a constraint violation) as success.
 */
export function observeDialect(dialect: Dialect, health: BackendHealth): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createDriver: () => observeDriver(dialect.createDriver(), health),
  };
}

const OBSERVED = Symbol('observed by BackendHealth');
const FROM_DATABASE = Symbol('thrown by a database connection');

/**
 * True when `error` came out of a database connection and says the database cannot be
 * reached. (The same socket codes from elsewhere, e.g. a client that hung up mid-body, are
 * not database outages.)
 */
export function isDatabaseOutage(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { [FROM_DATABASE]?: true })[FROM_DATABASE] === true &&
    isDatabaseUnavailable(error)
  );
}

function note(health: BackendHealth, error: unknown): void {
  if (typeof error === 'object' && error !== null && Object.isExtensible(error)) {
    (error as { [FROM_DATABASE]?: true })[FROM_DATABASE] = true;
  }
  if (isDatabaseUnavailable(error)) health.noteFailure(error);
  else health.noteSuccess();
}

function observeDriver(driver: Driver, health: BackendHealth): Driver {
  const acquire = driver.acquireConnection.bind(driver);
  // Patched in place rather than wrapped: drivers keep private state on their own objects
  // (the PostgreSQL driver releases a connection through a symbol method of its class).
  driver.acquireConnection = async () => {
    let connection: DatabaseConnection;
    try {
      connection = await acquire();
    } catch (error) {
      note(health, error);
      throw error;
    }
    observeConnection(connection, health);
    return connection;
  };
  return driver;
}

function observeConnection(connection: DatabaseConnection, health: BackendHealth): void {
  const marked = connection as DatabaseConnection & { [OBSERVED]?: true };
  if (marked[OBSERVED]) return;
  marked[OBSERVED] = true;
  const execute = connection.executeQuery.bind(connection);
  connection.executeQuery = async <R>(...args: Parameters<DatabaseConnection['executeQuery']>) => {
    try {
      const result = (await execute(...args)) as QueryResult<R>;
      health.noteSuccess();
      return result;
    } catch (error) {
      note(health, error);
      throw error;
    }
  };
}
