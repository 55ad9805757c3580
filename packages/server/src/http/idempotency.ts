/**
 * `Idempotency-Key`: a client names a request it may have to send again (its answer was
 * lost); the server answers the repeat with the first answer instead of doing the work
 * twice. Used by retry and the form submission, whose repeats would otherwise queue a
 * second task.
 *
 * The key's row is written in the same transaction as the work it guards, so the two
 * commit together or not at all: no "in progress" state can be left behind by a crash,
 * and a concurrent request with the same key waits on the row (PostgreSQL) or the single
 * writer (SQLite), then finds the answer. Only answers that did something are kept: a
 * refused request changed nothing, and may be sent again with the same key.
 */
import { createHash } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { ApiError } from '@speos-portal/protocol';
import type { Transaction } from 'kysely';
import type { Clock } from '../clock.js';
import type { Db } from '../db/connect.js';
import type { Database } from '../db/schema.js';
import type { Owner } from '../tasks/repository.js';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** Sent with an answer that repeats the one first given to the same key. */
export const REPLAYED_HEADER = 'Idempotent-Replayed';

/** For OpenAPI: the header routes that take a key document (it is checked by `idempotencyKey`). */
export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      description:
        'a unique value per request (e.g. a UUID); a repeat with the same key and body gets the first answer',
    }),
  ),
});

/** Printable ASCII without spaces: a UUID, a ULID, a hash… */
const KEY = /^[\x21-\x7e]{1,255}$/;

/** The request's Idempotency-Key, or undefined without one; a malformed key is a 422. */
export function idempotencyKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const raw = headers[IDEMPOTENCY_HEADER];
  if (raw === undefined) return undefined;
  const value = Array.isArray(raw) ? raw.join(',') : raw.trim();
  if (!KEY.test(value)) {
    const message = 'must be 1–255 printable ASCII characters without spaces, such as a UUID';
    throw new ApiError('VALIDATION_FAILED', `Idempotency-Key ${message}`, {
      errors: [{ field: 'Idempotency-Key', message }],
    });
  }
  return value;
}

/** JSON with object keys sorted, so equal requests give equal text whatever their field order. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * What identifies a request for its key: the operation and the fields it acts on. Callers pass
 * those fields, not a whole body: ignored fields must not change it, and stableJson recurses.
 */
export function fingerprint(request: unknown): string {
  return createHash('sha256').update(stableJson(request)).digest('hex');
}

export interface Remembered<T> {
  answer: T;
  /** True when this is the answer first given to the key, not new work. */
  replayed: boolean;
}

/** Thrown inside the transaction when another request holds the key: rolls the work back. */
class KeyTaken extends Error {}

export class IdempotencyKeys {
  readonly #db: Db;
  readonly #clock: Clock;
  readonly #ttlMs: number;

  constructor(deps: { db: Db; clock: Clock; ttlHours: number }) {
    this.#db = deps.db;
    this.#clock = deps.clock;
    this.#ttlMs = deps.ttlHours * 3600 * 1000;
  }

  /**
   * Runs `work` in a transaction, once per key: a repeat with the same request gets the
   * first answer; one with another request, 409 IDEMPOTENCY_KEY_REUSED. Without a key the
   * work just runs. `what` names the request in that 409's detail.
   */
  async once<T>(
    owner: Owner,
    key: string | undefined,
    request: { what: string; fingerprint: string },
    work: (trx: Transaction<Database>) => Promise<T>,
  ): Promise<Remembered<T>> {
    if (key === undefined) return { answer: await this.#db.transaction().execute(work), replayed: false };
    const scope = owner ?? '';
    // A lost race can meet a row that expires in between: look again, a few times at most.
    for (let attempt = 0; ; attempt++) {
      const earlier = await this.#find(scope, key);
      if (earlier) return this.#replay(earlier, key, request);
      try {
        const answer = await this.#db.transaction().execute(async (trx) => {
          const now = this.#clock();
          await trx
            .deleteFrom('idempotency_keys')
            .where('created_at', '<', now - this.#ttlMs)
            .execute();
          const claimed = await trx
            .insertInto('idempotency_keys')
            .values({ scope, key, fingerprint: request.fingerprint, response: 'null', created_at: now })
            .onConflict((oc) => oc.columns(['scope', 'key']).doNothing())
            .executeTakeFirst();
          if (Number(claimed.numInsertedOrUpdatedRows ?? 0) === 0) throw new KeyTaken();
          const result = await work(trx);
          await trx
            .updateTable('idempotency_keys')
            .set({ response: JSON.stringify(result) })
            .where('scope', '=', scope)
            .where('key', '=', key)
            .execute();
          return result;
        });
        return { answer, replayed: false };
      } catch (error) {
        if (!(error instanceof KeyTaken) || attempt >= 3) throw error;
      }
    }
  }

  async #find(scope: string, key: string) {
    return this.#db
      .selectFrom('idempotency_keys')
      .select(['fingerprint', 'response'])
      .where('scope', '=', scope)
      .where('key', '=', key)
      .where('created_at', '>=', this.#clock() - this.#ttlMs)
      .executeTakeFirst();
  }

  #replay<T>(
    earlier: { fingerprint: string; response: string },
    key: string,
    request: { what: string; fingerprint: string },
  ): Remembered<T> {
    if (earlier.fingerprint !== request.fingerprint) {
      throw new ApiError(
        'IDEMPOTENCY_KEY_REUSED',
        `Idempotency-Key "${key}" was already used for a different request; this ${request.what} is not the one first sent with it. Send a new key for each new request.`,
      );
    }
    return { answer: JSON.parse(earlier.response) as T, replayed: true };
  }
}
